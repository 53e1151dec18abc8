"""Process-level fault tests: the real bot process, killed and deprived of its
database, Redis and Telegram, must still answer every stored message once."""
