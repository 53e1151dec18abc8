/*
 * Djinn: the chat widget for an administration's website.
 *
 *   <script src="https://chat.example.ru/widget/widget.js" async></script>
 *
 * Plain ES2017, no dependencies, no build step. Everything lives in a shadow root, so
 * the site's styles do not reach the chat and the chat's do not reach the site. The
 * protocol is described in bots/web/frames.py; the visitor's token is kept in
 * localStorage and sent in the socket's first frame (or the Authorization header),
 * never in a URL.
 */
(function () {
  "use strict";

  if (window.__djinnWidget) {
    return; // the tag was pasted twice
  }
  window.__djinnWidget = true;

  var script = document.currentScript || (function () {
    var found = document.querySelectorAll("script[src*='/widget/widget.js']");
    return found[found.length - 1];
  })();
  if (!script) {
    return;
  }
  var BASE = script.src.replace(/\/widget\/widget\.js(?:[?#].*)?$/, "");
  var TOKEN_KEY = "djinn-widget-token:" + BASE;
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var SVG = "http://www.w3.org/2000/svg";
  var CHAT_ICON = "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z";
  var CLIP_ICON = "M16.5 6v11.5c0 2.21-1.79 4-4 4s-4-1.79-4-4V5c0-1.38 1.12-2.5 2.5-2.5s2.5 " +
    "1.12 2.5 2.5v10.5c0 .55-.45 1-1 1s-1-.45-1-1V6H10v9.5c0 1.38 1.12 2.5 2.5 2.5s2.5-1.12 " +
    "2.5-2.5V5c0-2.21-1.79-4-4-4S7 2.79 7 5v12.5c0 3.04 2.46 5.5 5.5 5.5s5.5-2.46 5.5-5.5V6h-1.5z";
  var URL_PATTERN = /(https?:\/\/[^\s<>"«»]+[^\s<>"«».,;:!?)])/g;

  var TEXT = {
    open: "Задать вопрос",
    close: "Закрыть чат",
    log: "Сообщения чата",
    input: "Ваше сообщение",
    placeholder: "Напишите вопрос…",
    send: "Отправить",
    attach: "Прикрепить фото",
    privacy: "Политика обработки персональных данных",
    bot: "Бот",
    operator: "Оператор",
    you: "Вы",
    photo: "Фото",
    sending: "отправляется",
    failed: "Не отправлено.",
    retry: "Отправить ещё раз",
    offline: "Нет связи с сервером. Переподключаемся…",
    unavailable: "Чат временно недоступен. Попробуйте позже.",
    photoType: "Можно отправить только фото в формате JPEG, PNG или WebP.",
    photoSize: "Фото слишком большое: не больше 10 МБ.",
    uploading: "Фото загружается…",
    unread: "новых сообщений: ",
    choices: "Варианты ответа"
  };

  var tokens = {
    memory: null,
    get: function () {
      try {
        return window.localStorage.getItem(TOKEN_KEY) || this.memory;
      } catch (error) {
        return this.memory;
      }
    },
    set: function (token) {
      this.memory = token;
      try {
        window.localStorage.setItem(TOKEN_KEY, token);
      } catch (error) {
        /* private mode: kept for this page only */
      }
    },
    drop: function () {
      this.memory = null;
      try {
        window.localStorage.removeItem(TOKEN_KEY);
      } catch (error) {
        /* nothing kept */
      }
    }
  };

  function newId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (name === "text") {
        node.textContent = value;
      } else if (name === "className") {
        node.className = value;
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(child);
      }
    });
    return node;
  }

  /* An icon drawn in the text's colour; screen readers skip it (its button has a name). */
  function icon(path) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon");
    var shape = document.createElementNS(SVG, "path");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", "currentColor");
    svg.appendChild(shape);
    return svg;
  }

  /* Text with its web addresses as links (built as nodes: nothing is parsed as HTML). */
  function richText(text) {
    var fragment = document.createDocumentFragment();
    var last = 0;
    text.replace(URL_PATTERN, function (url, _group, offset) {
      fragment.appendChild(document.createTextNode(text.slice(last, offset)));
      fragment.appendChild(el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: url }));
      last = offset + url.length;
      return url;
    });
    fragment.appendChild(document.createTextNode(text.slice(last)));
    return fragment;
  }

  class Widget {
    constructor() {
      this.config = null;
      this.token = null;
      this.consent = false;
      this.items = [];
      this.byId = new Map();
      this.byClient = new Map();
      this.unacked = new Map(); // client id → frame, sent again after a reconnection
      this.lastId = 0;
      this.unread = 0;
      this.socket = null;
      this.ready = false;
      this.mode = "socket";
      this.socketFailures = 0;
      this.backoff = 1000;
      this.timer = null;
      this.connecting = false;
      this.polling = false;
    }

    async start() {
      this.build();
      try {
        var response = await fetch(BASE + "/widget/api/config", { credentials: "omit" });
        var body = await response.json();
        if (!response.ok) {
          this.disable(body.message || TEXT.unavailable);
          return;
        }
        this.configure(body);
      } catch (error) {
        this.disable(TEXT.unavailable);
        return;
      }
      if (tokens.get()) {
        this.connect(); // a returning visitor hears operators' answers at once
      }
    }

    build() {
      // An element of its own name: the site's rules for div and the like do not match it.
      var host = el("djinn-chat", { id: "djinn-widget" });
      host.style.display = "none"; // until its styles are in
      var root = host.attachShadow({ mode: "open" });
      var styles = el("link", { rel: "stylesheet", href: BASE + "/widget/widget.css" });
      styles.addEventListener("load", function () { host.style.display = ""; });
      styles.addEventListener("error", function () { host.style.display = ""; });
      this.host = host;

      this.launcherBadge = el("span", { className: "badge", hidden: true });
      this.launcher = el("button", {
        className: "launcher", type: "button", "aria-haspopup": "dialog",
        "aria-expanded": "false", "aria-controls": "djinn-panel"
      }, [icon(CHAT_ICON),
          el("span", { className: "launcher-label", text: TEXT.open }), this.launcherBadge]);

      this.title = el("h2", { id: "djinn-title", text: TEXT.open });
      this.closeButton = el("button", { className: "close", type: "button", "aria-label": TEXT.close, text: "×" });
      this.log = el("div", {
        className: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
        "aria-label": TEXT.log, tabindex: "0"
      });
      this.status = el("p", { className: "status", role: "status", "aria-live": "polite" });
      this.noticeText = el("span");
      this.noticeLink = el("a", { target: "_blank", rel: "noopener noreferrer", text: TEXT.privacy, hidden: true });
      this.notice = el("div", { className: "notice", id: "djinn-notice", role: "note" },
        [this.noticeText, document.createTextNode(" "), this.noticeLink]);
      this.input = el("textarea", {
        id: "djinn-input", rows: "2", maxlength: "4000", placeholder: TEXT.placeholder,
        "aria-describedby": "djinn-notice"
      });
      this.file = el("input", {
        type: "file", accept: PHOTO_TYPES.join(","), className: "visually-hidden",
        tabindex: "-1", "aria-hidden": "true"
      });
      this.attach = el("button", { className: "attach", type: "button", "aria-label": TEXT.attach, title: TEXT.attach },
        [icon(CLIP_ICON)]);
      this.sendButton = el("button", { className: "send", type: "submit", text: TEXT.send });
      this.form = el("form", { className: "form" }, [
        el("label", { className: "visually-hidden", for: "djinn-input", text: TEXT.input }),
        this.input, this.file, this.attach, this.sendButton
      ]);
      this.panel = el("section", {
        className: "panel", id: "djinn-panel", role: "dialog", "aria-modal": "false",
        "aria-labelledby": "djinn-title", hidden: true
      }, [el("header", { className: "head" }, [this.title, this.closeButton]),
          this.log, this.status, this.notice, this.form]);

      root.appendChild(styles);
      root.appendChild(el("div", { className: "djinn" }, [this.launcher, this.panel]));
      document.body.appendChild(host);

      this.launcher.addEventListener("click", () => this.toggle());
      this.closeButton.addEventListener("click", () => this.close());
      this.panel.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
          event.preventDefault();
          this.close();
        }
      });
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.submit();
        }
      });
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.submit();
      });
      this.attach.addEventListener("click", () => this.file.click());
      this.file.addEventListener("change", () => {
        var chosen = this.file.files && this.file.files[0];
        this.file.value = "";
        if (chosen) {
          this.upload(chosen);
        }
      });
    }

    configure(config) {
      this.config = config;
      this.host.style.setProperty("--djinn-accent", config.color);
      this.host.style.setProperty("--djinn-on-accent", config.text_color);
      this.title.textContent = config.title;
      this.launcher.querySelector(".launcher-label").textContent = config.title;
      this.noticeText.textContent = config.notice;
      if (config.privacy_url) {
        this.noticeLink.setAttribute("href", config.privacy_url);
        this.noticeLink.hidden = false;
      }
      this.greet();
      this.showNotice();
    }

    disable(message) {
      this.launcher.querySelector(".launcher-label").textContent = TEXT.open;
      this.say(message);
      this.input.disabled = true;
      this.sendButton.disabled = true;
      this.attach.disabled = true;
      this.notice.hidden = true;
    }

    greet() {
      var greeting = el("div", { className: "msg from-bot greeting" }, [
        el("span", { className: "who visually-hidden", text: TEXT.bot }),
        el("span", { className: "body" }, [richText(this.config.greeting)])
      ]);
      this.log.appendChild(greeting);
    }

    showNotice() {
      this.notice.hidden = this.consent;
    }

    note(message) {
      this.log.appendChild(el("p", { className: "system", text: message }));
    }

    say(message) {
      this.status.textContent = message || "";
    }

    /* --- the panel --- */

    toggle() {
      if (this.panel.hidden) {
        this.open();
      } else {
        this.close();
      }
    }

    open() {
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.unread = 0;
      this.showUnread();
      this.log.scrollTop = this.log.scrollHeight;
      this.input.focus();
      if (this.config && !this.socket && !this.ready && !this.connecting) {
        this.connect();
      }
    }

    close() {
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.focus();
    }

    showUnread() {
      this.launcherBadge.hidden = this.unread === 0;
      this.launcherBadge.textContent = String(this.unread);
      this.launcherBadge.setAttribute("aria-label", TEXT.unread + this.unread);
    }

    /* --- the connection --- */

    connect() {
      if (!this.config) {
        return;
      }
      clearTimeout(this.timer);
      if (this.mode === "poll") {
        this.startPolling();
        return;
      }
      var socket;
      this.connecting = true;
      try {
        socket = new WebSocket(BASE.replace(/^http/, "ws") + "/widget/ws");
      } catch (error) {
        this.fallBack();
        return;
      }
      var opened = false;
      this.socket = socket;
      socket.addEventListener("open", () => {
        opened = true;
        socket.send(JSON.stringify({ type: "hello", token: tokens.get() }));
      });
      socket.addEventListener("message", (event) => {
        var frame;
        try {
          frame = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        this.onFrame(frame);
      });
      socket.addEventListener("close", (event) => {
        this.socket = null;
        this.ready = false;
        this.connecting = false;
        if (event.code === 4401) {
          this.restart();
          this.connect();
        } else if (event.code === 4429) {
          this.later(60000);
        } else if (!opened) {
          this.socketFailures += 1;
          if (this.socketFailures >= 2) {
            this.fallBack(); // sockets are blocked on the way: long polling
          } else {
            this.later(1000);
          }
        } else {
          this.say(TEXT.offline);
          this.later(this.backoff);
          this.backoff = Math.min(this.backoff * 2, 30000);
        }
      });
    }

    later(delay) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), delay);
    }

    fallBack() {
      this.mode = "poll";
      this.connecting = false;
      this.startPolling();
    }

    /* A token the server no longer honours: a new conversation from scratch. */
    restart() {
      tokens.drop();
      this.token = null;
      this.consent = false;
      this.items.forEach((item) => item.node.remove());
      this.items = [];
      this.byId.clear();
      this.byClient.clear();
      this.unacked.clear();
      this.lastId = 0;
      this.showNotice();
    }

    onFrame(frame) {
      if (!frame || typeof frame !== "object") {
        return;
      }
      if (frame.type === "ready") {
        this.token = frame.token;
        tokens.set(frame.token);
        this.consent = Boolean(frame.consent);
        this.ready = true;
        this.connecting = false;
        this.backoff = 1000;
        this.socketFailures = 0;
        this.showNotice();
        this.say("");
        this.log.setAttribute("aria-busy", "true");
        (frame.messages || []).forEach((message) => this.show(message, true));
        this.log.removeAttribute("aria-busy");
        this.unacked.forEach((pending) => this.transmit(pending));
      } else if (frame.type === "message") {
        this.show(frame, false);
      } else if (frame.type === "ack") {
        this.acknowledged(frame.client_id);
      } else if (frame.type === "error") {
        this.refused(frame);
      }
    }

    /* --- messages --- */

    show(message, fromHistory) {
      if (typeof message.id === "number" && message.id > this.lastId) {
        this.lastId = message.id;
      }
      if (message.from === "visitor" && message.client_id && message.id !== null) {
        this.unacked.delete(message.client_id); // stored: nothing to send again
      }
      var item = (message.id !== null && this.byId.get(message.id)) ||
        (message.client_id && this.byClient.get(message.client_id));
      if (item) {
        if (message.id !== null && item.id === null) {
          item.id = message.id;
          this.byId.set(message.id, item);
        }
        if (message.photo && !item.photo) {
          this.addPhoto(item, message.photo);
        }
        if (item.state !== "sent" && message.from === "visitor") {
          this.mark(item, "sent");
        }
        return;
      }
      item = this.render(message);
      var next = message.id === null ? null : this.items.find((other) => other.id !== null && other.id > message.id);
      if (next) {
        this.log.insertBefore(item.node, next.node);
        this.items.splice(this.items.indexOf(next), 0, item);
      } else {
        this.log.appendChild(item.node);
        this.items.push(item);
      }
      if (message.id !== null) {
        this.byId.set(message.id, item);
      }
      if (message.client_id) {
        this.byClient.set(message.client_id, item);
      }
      this.log.scrollTop = this.log.scrollHeight;
      if (!fromHistory && message.from !== "visitor" && this.panel.hidden) {
        this.unread += 1;
        this.showUnread();
      }
    }

    render(message) {
      var from = message.from === "operator" ? "operator" : message.from === "visitor" ? "visitor" : "bot";
      var who = { bot: TEXT.bot, operator: TEXT.operator, visitor: TEXT.you }[from];
      var node = el("div", { className: "msg from-" + from }, [
        el("span", { className: from === "operator" ? "who" : "who visually-hidden", text: who }),
        message.text ? el("span", { className: "body" }, [richText(message.text)]) : null
      ]);
      var item = { id: message.id, clientId: message.client_id || null, node: node, photo: null, state: "sent" };
      if (message.photo) {
        this.addPhoto(item, message.photo);
      }
      var rows = message.buttons || [];
      if (rows.length) {
        var group = el("div", { className: "buttons", role: "group", "aria-label": TEXT.choices });
        rows.forEach((row) => row.forEach((button) => {
          var press = el("button", { type: "button", text: button.text });
          press.addEventListener("click", () => this.press(button));
          group.appendChild(press);
        }));
        node.appendChild(group);
      }
      return item;
    }

    addPhoto(item, photo) {
      item.photo = photo;
      var src = /^https?:/.test(photo) ? photo : BASE + photo;
      var image = el("img", { src: src, alt: TEXT.photo });
      image.addEventListener("load", () => {
        if (this.items[this.items.length - 1] === item) {
          this.log.scrollTop = this.log.scrollHeight; // the photo made the last message taller
        }
      });
      item.node.appendChild(image);
    }

    mark(item, state) {
      item.state = state;
      item.node.classList.toggle("pending", state === "pending");
      item.node.classList.toggle("failed", state === "failed");
      var old = item.node.querySelector(".state");
      if (old) {
        old.remove();
      }
      if (state === "pending") {
        item.node.appendChild(el("span", { className: "visually-hidden state", text: TEXT.sending }));
      } else if (state === "failed") {
        var again = el("button", { type: "button", className: "retry", text: TEXT.retry });
        again.addEventListener("click", () => this.resend(item));
        item.node.appendChild(el("span", { className: "state" }, [
          el("span", { text: TEXT.failed + " " }), again
        ]));
      }
    }

    /* --- sending --- */

    submit() {
      var text = this.input.value.trim();
      if (!text) {
        return;
      }
      this.input.value = "";
      this.send({ type: "message", id: newId(), text: text }, { from: "visitor", text: text });
    }

    press(button) {
      this.send({ type: "button", id: newId(), payload: button.payload, text: button.text },
        { from: "visitor", text: button.text });
      this.input.focus();
    }

    send(frame, shown) {
      if (!this.consent) {
        frame.consent = true; // the notice is on screen: sending is consent
      }
      this.show({ id: null, client_id: frame.id, from: shown.from, text: shown.text,
        photo: shown.photo || null, buttons: [] }, false);
      var item = this.byClient.get(frame.id);
      this.mark(item, "pending");
      item.frame = frame;
      this.unacked.set(frame.id, frame);
      this.transmit(frame);
    }

    resend(item) {
      if (!item.frame) {
        return;
      }
      this.mark(item, "pending");
      this.unacked.set(item.frame.id, item.frame);
      this.transmit(item.frame);
    }

    transmit(frame) {
      if (!this.ready) {
        if (!this.socket && !this.connecting) {
          this.connect();
        }
        return; // sent when the connection is ready
      }
      if (this.mode === "poll") {
        this.post("/widget/api/messages", frame).then((body) => this.onFrame(body));
      } else if (this.socket && this.socket.readyState === WebSocket.OPEN) {
        this.socket.send(JSON.stringify(frame));
      }
    }

    acknowledged(clientId) {
      var pending = this.unacked.get(clientId);
      this.unacked.delete(clientId);
      if (pending && pending.consent) {
        this.consent = true;
        this.showNotice();
      }
      var item = this.byClient.get(clientId);
      if (item) {
        this.mark(item, "sent");
      }
    }

    refused(frame) {
      if (frame.code === "bad_token") {
        this.note(frame.message); // the old conversation is gone; a new one starts
        return;
      }
      this.say(frame.message);
      if (frame.code === "consent_required") {
        this.consent = false;
        this.showNotice();
      }
      if (frame.client_id) {
        this.unacked.delete(frame.client_id);
        var item = this.byClient.get(frame.client_id);
        if (item) {
          this.mark(item, "failed");
        }
      }
    }

    async upload(file) {
      if (PHOTO_TYPES.indexOf(file.type) < 0) {
        this.say(TEXT.photoType);
        return;
      }
      if (file.size > this.config.photo_limit) {
        this.say(TEXT.photoSize);
        return;
      }
      if (!this.ready) {
        this.say(TEXT.offline);
        return;
      }
      this.say(TEXT.uploading);
      var response;
      try {
        response = await fetch(BASE + "/widget/api/photos", {
          method: "POST", credentials: "omit", body: file,
          headers: { "Authorization": "Bearer " + this.token, "Content-Type": file.type }
        });
      } catch (error) {
        this.say(TEXT.offline);
        return;
      }
      var body = await response.json().catch(() => ({}));
      if (!response.ok) {
        this.say(body.message || TEXT.unavailable);
        return;
      }
      this.say("");
      var caption = this.input.value.trim();
      this.input.value = "";
      this.send({ type: "photo", id: newId(), file: body.file, text: caption },
        { from: "visitor", text: caption, photo: "/widget/files/" + body.file });
    }

    /* --- long polling, where sockets do not get through --- */

    async post(path, body) {
      try {
        var headers = { "Content-Type": "application/json" };
        if (this.token) {
          headers.Authorization = "Bearer " + this.token;
        }
        var response = await fetch(BASE + path, {
          method: "POST", credentials: "omit", headers: headers, body: JSON.stringify(body)
        });
        return await response.json();
      } catch (error) {
        return { type: "error", code: "offline", message: TEXT.offline, client_id: body.id };
      }
    }

    async startPolling() {
      if (this.polling) {
        return;
      }
      this.polling = true;
      try {
        var ready = await this.post("/widget/api/session", { token: tokens.get() });
        if (ready.type === "error" && ready.code === "bad_token") {
          this.refused(ready);
          this.restart();
          ready = await this.post("/widget/api/session", { token: null });
        }
        if (ready.type !== "ready") {
          this.connecting = false;
          this.say(ready.message || TEXT.offline);
          this.later(ready.code === "rate_limited" ? 60000 : 5000);
          return;
        }
        this.onFrame(ready);
        await this.poll();
      } finally {
        this.polling = false;
      }
    }

    async poll() {
      while (this.ready) {
        try {
          var response = await fetch(BASE + "/widget/api/events?after=" + this.lastId, {
            credentials: "omit", headers: { "Authorization": "Bearer " + this.token }
          });
          if (response.status === 401) {
            this.ready = false;
            this.later(0); // a new session (the token is checked again there)
            return;
          }
          var body = await response.json();
          (body.messages || []).forEach((message) => this.show(message, false));
          this.say("");
        } catch (error) {
          this.say(TEXT.offline);
          await new Promise((done) => setTimeout(done, 3000));
        }
      }
    }
  }

  function boot() {
    new Widget().start();
  }

  if (document.body) {
    boot();
  } else {
    document.addEventListener("DOMContentLoaded", boot);
  }
})();
