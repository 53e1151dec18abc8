"""The chat widget on the administration's website: one ``<script>`` tag opens a chat
window that talks to Djinn over a WebSocket (or long polling where sockets are blocked).

Like the other channels, a visitor's message is made durable in the inbox before it is
acknowledged (`processing`), answered by the conversation service and delivered by the
outbox sender (`transport`), which pushes it to the visitor's open sockets; the database
is the history a reconnecting visitor reads. The HTTP side (`http`) is served by the web
admin's server (`admin.server`)."""
