// The Reelay sandbox web chat: draws the emulated Telegram chats and acts as the person in them.
// Live updates come from /api/events (Server-Sent Events); the DOM is built node by node, never from markup,
// so text from prompts and from the bot is always shown as text.
"use strict";

(() => {
  const CHAT_ACTIONS = {
    typing: "typing…",
    upload_video: "sending a video…",
    record_video: "recording a video…",
    upload_document: "sending a file…",
    upload_photo: "sending a photo…",
    choose_sticker: "choosing a sticker…",
  };
  const ACTION_SHOW_MS = 5000; // how long Telegram shows a chat action unless a message ends it
  const TOAST_MS = 2500;
  const BUTTON_PENDING_MS = 15000;
  const URL_OR_COMMAND = /(https?:\/\/[^\s<>"']+)|(^|\s)(\/[A-Za-z0-9_]{1,32})(?=$|[\s.,;:!?)])/g;

  const state = {
    me: null,
    bot: null,
    active: "bot",
    chats: { bot: emptyChat(), channel: emptyChat() },
    replyTo: null,
    pending: new Map(), // callback_query_id -> the button waiting for the bot's answer
    answered: new Set(), // answers that arrived before our POST returned the query id
    actionTimer: null,
    toastTimer: null,
    live: false, // false while drawing a snapshot: no unread counts, no ForceReply from history
  };

  const $ = (selector, root = document) => root.querySelector(selector);
  const ui = {
    app: $(".app"),
    connection: $("[data-testid=connection]"),
    entries: { bot: $("[data-chat=bot].chat-entry"), channel: $("[data-chat=channel].chat-entry") },
    lists: { bot: $(".messages[data-chat=bot]"), channel: $(".messages[data-chat=channel]") },
    headerTitle: $("[data-testid=header-title]"),
    headerSubtitle: $("[data-testid=header-subtitle]"),
    headerAvatar: $("[data-role=header-avatar]"),
    toast: $("[data-testid=toast]"),
    composer: $("[data-testid=composer]"),
    input: $("[data-testid=composer-input]"),
    send: $("[data-testid=send]"),
    replyBar: $("[data-testid=reply-bar]"),
    menu: $("[data-testid=commands-menu]"),
    menuButton: $(".menu-button"),
    photoInput: $("[data-testid=photo-input]"),
    channelFooter: $(".channel-footer"),
  };

  function emptyChat() {
    return { id: null, title: null, username: null, messages: new Map(), unread: 0 };
  }

  function chatKey(chatId) {
    if (chatId === state.chats.bot.id) return "bot";
    if (chatId === state.chats.channel.id) return "channel";
    return null;
  }

  // ------------------------------------------------------------------ live events

  const handlers = {
    snapshot(data) {
      state.live = false;
      state.me = data.me;
      state.bot = data.bot;
      loadChat("bot", data.chat);
      loadChat("channel", data.channel || { id: null, title: null, messages: [] });
      ui.entries.channel.hidden = !data.channel;
      const last = lastMessage("bot");
      setReplyTo(last && last.from === "bot" && last.force_reply ? last : null);
      drawMenu();
      showChat(state.active);
      state.live = true;
    },
    message(view) {
      const key = chatKey(view.chat_id);
      if (!key) return;
      const isNew = !state.chats[key].messages.has(view.id);
      upsert(key, view);
      if (!isNew) return;
      if (key === "bot" && view.from === "bot") {
        clearAction();
        if (view.force_reply) setReplyTo(view);
      }
      if (key !== state.active && view.from !== "user") {
        state.chats[key].unread += 1;
      }
      drawEntry(key);
    },
    edit(view) {
      const key = chatKey(view.chat_id);
      if (key && state.chats[key].messages.has(view.id)) {
        upsert(key, view);
        drawEntry(key);
      }
    },
    delete(data) {
      const key = chatKey(data.chat_id);
      if (!key) return;
      state.chats[key].messages.delete(data.id);
      const node = findNode(key, data.id);
      if (node) node.remove();
      if (state.replyTo && state.replyTo.id === data.id && key === "bot") setReplyTo(null);
      drawEntry(key);
    },
    answer(data) {
      const button = state.pending.get(data.callback_query_id);
      if (button) {
        button.classList.remove("pending");
        state.pending.delete(data.callback_query_id);
      } else {
        state.answered.add(data.callback_query_id);
      }
      if (data.text) toast(data.text, data.show_alert);
    },
    action(data) {
      if (chatKey(data.chat_id) !== "bot") return;
      clearAction();
      ui.headerSubtitle.dataset.action = CHAT_ACTIONS[data.action] || "typing…";
      drawHeader();
      state.actionTimer = setTimeout(clearAction, ACTION_SHOW_MS);
    },
  };

  function connect() {
    const source = new EventSource("/api/events");
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
    }
    source.addEventListener("open", () => setOnline(true));
    source.addEventListener("error", () => {
      setOnline(false);
      if (source.readyState === EventSource.CLOSED) {
        // The server refused or went away for good; EventSource will not retry on its own then.
        setTimeout(connect, 3000);
      }
    });
  }

  function setOnline(online) {
    ui.connection.textContent = online ? "connected" : "connecting…";
    ui.connection.classList.toggle("online", online);
    document.body.dataset.connected = online ? "true" : "false";
  }

  // ------------------------------------------------------------------ chats and the header

  function loadChat(key, chat) {
    const target = state.chats[key];
    target.id = chat.id;
    target.title = chat.title;
    target.username = chat.username || null;
    target.messages = new Map();
    target.unread = 0;
    const list = ui.lists[key];
    for (const node of list.querySelectorAll(".message")) node.remove();
    for (const view of chat.messages) upsert(key, view);
    drawEntry(key);
  }

  function lastMessage(key) {
    let last = null;
    for (const view of state.chats[key].messages.values()) last = view;
    return last;
  }

  function showChat(key) {
    state.active = key;
    state.chats[key].unread = 0;
    for (const [name, list] of Object.entries(ui.lists)) list.hidden = name !== key;
    for (const [name, entry] of Object.entries(ui.entries)) entry.classList.toggle("active", name === key);
    ui.composer.hidden = key !== "bot";
    ui.channelFooter.hidden = key !== "channel";
    ui.app.classList.add("show-conversation");
    drawEntry(key);
    drawHeader();
    scrollToBottom(key);
  }

  function drawHeader() {
    const key = state.active;
    const chat = state.chats[key];
    ui.headerTitle.textContent = chat.title || (key === "bot" ? "Reelay" : "Channel");
    ui.headerAvatar.textContent = initial(ui.headerTitle.textContent);
    ui.headerAvatar.className = `avatar ${key === "bot" ? "avatar-bot" : "avatar-channel"}`;
    const action = key === "bot" ? ui.headerSubtitle.dataset.action : "";
    ui.headerSubtitle.textContent = action || (key === "bot" ? "bot" : channelSubtitle(chat));
    ui.headerSubtitle.classList.toggle("busy", Boolean(action));
  }

  function channelSubtitle(chat) {
    const posts = chat.messages.size;
    const name = chat.username ? `@${chat.username} · ` : "";
    return `${name}${posts} ${posts === 1 ? "post" : "posts"}`;
  }

  function clearAction() {
    clearTimeout(state.actionTimer);
    delete ui.headerSubtitle.dataset.action;
    drawHeader();
  }

  function drawEntry(key) {
    const entry = ui.entries[key];
    const chat = state.chats[key];
    $(".entry-name", entry).textContent = chat.title || (key === "bot" ? "Reelay" : "Channel");
    $(".avatar", entry).textContent = initial($(".entry-name", entry).textContent);
    const last = lastMessage(key);
    $(".entry-preview", entry).textContent = last ? previewOf(last) : key === "bot" ? "Send /start" : "No posts yet";
    const badge = $(".unread", entry);
    badge.hidden = chat.unread === 0 || key === state.active;
    badge.textContent = String(chat.unread);
    if (key === state.active) drawHeader();
  }

  function previewOf(view) {
    const prefix = view.from === "user" ? "You: " : "";
    if (view.video) return prefix + (view.caption || "Video");
    if (view.document) return prefix + (view.caption || view.document.file_name || "File");
    return prefix + (view.text || "");
  }

  function initial(text) {
    return (Array.from(text || "?")[0] || "?").toUpperCase();
  }

  // ------------------------------------------------------------------ messages

  function findNode(key, id) {
    return ui.lists[key].querySelector(`.message[data-message-id="${Number(id)}"]`);
  }

  function upsert(key, view) {
    const chat = state.chats[key];
    const list = ui.lists[key];
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 160;
    const old = findNode(key, view.id);
    const node = renderMessage(key, view, old);
    chat.messages.set(view.id, view);
    if (old) {
      old.replaceWith(node);
    } else {
      list.append(node);
      if (state.replyTo && state.replyTo.id === view.reply_to?.id && view.from === "user") setReplyTo(null);
      if (nearBottom || view.from === "user" || !state.live) scrollToBottom(key);
    }
  }

  function renderMessage(key, view, old) {
    const node = element("div", `message from-${view.from}`);
    node.dataset.testid = "message";
    node.dataset.messageId = String(view.id);
    node.dataset.chatId = String(view.chat_id);
    node.dataset.from = view.from;
    const bubble = element("div", "bubble");
    node.append(bubble);

    if (view.from === "channel" && state.chats.channel.title) {
      bubble.append(element("div", "sender", state.chats.channel.title));
    }
    if (view.forwarded_from) bubble.append(element("div", "forwarded", `Forwarded from ${view.forwarded_from}`));
    if (view.reply_to) bubble.append(replyQuote(key, view.reply_to));
    if (view.video) {
      bubble.classList.add("has-media");
      bubble.append(reuseOrRenderVideo(view.video, old));
    }
    if (view.document) bubble.append(documentLink(view.document));
    if (view.invoice) bubble.append(invoiceCard(view.invoice));
    if (view.payment) bubble.append(element("div", "payment", `You paid ⭐${view.payment.stars}`));
    if (view.photo) {
      bubble.classList.add("has-media");
      bubble.append(photoImage(view.photo));
    }
    const body = view.text ?? view.caption;
    if (body) {
      bubble.classList.add("has-text");
      bubble.append(richText(body));
    }
    bubble.append(meta(view));
    if (view.buttons.length) node.append(keyboard(key, view));
    return node;
  }

  function replyQuote(key, reply) {
    const quote = element("button", "reply-quote");
    quote.type = "button";
    quote.append(element("span", "reply-sender", reply.sender_name || "Message"));
    quote.append(element("span", "reply-text", reply.preview));
    quote.addEventListener("click", () => {
      const target = findNode(key, reply.id);
      if (!target) return;
      target.scrollIntoView({ block: "center", behavior: "smooth" });
      target.classList.remove("highlight");
      void target.offsetWidth; // restart the animation
      target.classList.add("highlight");
    });
    return quote;
  }

  function reuseOrRenderVideo(video, old) {
    // An edit (new caption, new buttons) must not restart a video that is playing.
    const existing = old && old.querySelector("video");
    if (existing && existing.dataset.src === video.url) return existing.closest(".media");
    const media = element("div", "media");
    if (!video.url) {
      media.classList.add("unavailable");
      media.textContent = "This video is no longer available.";
      return media;
    }
    const player = document.createElement("video");
    player.dataset.testid = "video";
    player.dataset.src = video.url;
    player.src = video.url;
    player.controls = true;
    player.muted = true; // muted videos may autoplay, as in Telegram's chat previews
    player.autoplay = true;
    player.loop = true;
    player.playsInline = true;
    player.preload = "auto";
    if (video.width && video.height) player.style.aspectRatio = `${video.width} / ${video.height}`;
    player.addEventListener("loadedmetadata", () => {
      const list = player.closest(".messages");
      if (list && list.scrollHeight - list.scrollTop - list.clientHeight < 400) list.scrollTop = list.scrollHeight;
    });
    media.append(player);
    if (video.duration) media.append(element("span", "duration", formatDuration(video.duration)));
    return media;
  }

  function photoImage(photo) {
    const media = element("div", "media");
    const image = document.createElement("img");
    image.dataset.testid = "photo";
    image.src = photo.url;
    image.alt = "Photo";
    if (photo.width && photo.height) image.style.aspectRatio = `${photo.width} / ${photo.height}`;
    media.append(image);
    return media;
  }

  function documentLink(doc) {
    const box = element("div", "document");
    box.append(element("span", "", "📎"));
    if (doc.url) {
      const link = element("a", "", doc.file_name || "file");
      link.href = doc.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      box.append(link);
    } else {
      box.append(element("span", "", doc.file_name || "file"));
    }
    return box;
  }

  function richText(text) {
    // Links and /commands become clickable, as in Telegram; everything else stays a text node.
    const box = element("div", "text");
    let last = 0;
    for (const match of text.matchAll(URL_OR_COMMAND)) {
      const [whole, url, space, command] = match;
      const start = match.index + (url ? 0 : space.length);
      box.append(document.createTextNode(text.slice(last, start)));
      if (url) {
        const link = element("a", "", url);
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        box.append(link);
      } else {
        const span = element("span", "command", command);
        span.addEventListener("click", () => sendText(command));
        box.append(span);
      }
      last = match.index + whole.length;
    }
    box.append(document.createTextNode(text.slice(last)));
    return box;
  }

  function meta(view) {
    const box = element("span", "meta");
    if (view.edited) box.append(element("span", "edited", "edited"));
    const time = element("time", "", formatTime(view.date));
    time.dateTime = new Date(view.date * 1000).toISOString();
    box.append(time);
    return box;
  }

  function keyboard(key, view) {
    const box = element("div", "keyboard");
    for (const row of view.buttons) {
      const line = element("div", "keyboard-row");
      for (const spec of row) {
        const button = element("button", "keyboard-button", spec.text);
        button.type = "button";
        button.dataset.testid = "inline-button";
        if (spec.pay) {
          button.classList.add("pay");
          button.dataset.testid = "pay-button";
          button.addEventListener("click", () => payInvoice(view, button));
        } else if (spec.url) {
          button.classList.add("link");
          button.addEventListener("click", () => window.open(spec.url, "_blank", "noopener,noreferrer"));
        } else if (spec.data) {
          button.addEventListener("click", () => pressButton(key, view, spec.data, button));
        }
        line.append(button);
      }
      box.append(line);
    }
    return box;
  }

  function scrollToBottom(key) {
    const list = ui.lists[key];
    list.scrollTop = list.scrollHeight;
  }

  // ------------------------------------------------------------------ acting as the person

  async function sendText(text) {
    const body = { text };
    if (state.replyTo) body.reply_to_message_id = state.replyTo.id;
    const answer = await postJson("/api/messages", body);
    if (answer === null) return false;
    setReplyTo(null);
    return true;
  }

  async function sendPhoto(file, caption) {
    // A photo goes as a photo; anything else (a PDF) as a file, as Telegram's clients do.
    const asFile = !["image/jpeg", "image/png", "image/webp"].includes(file.type);
    const dataUrl = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
    const body = { data: dataUrl.slice(dataUrl.indexOf(",") + 1), as_file: asFile, file_name: file.name };
    if (caption.trim()) body.caption = caption;
    return (await postJson("/api/photos", body)) !== null;
  }

  function invoiceCard(invoice) {
    const card = element("div", "invoice");
    card.dataset.testid = "invoice";
    card.append(element("div", "invoice-title", invoice.title || ""));
    card.append(element("div", "invoice-description", invoice.description || ""));
    card.append(element("div", "invoice-price", `⭐${invoice.stars}`));
    return card;
  }

  async function payInvoice(view, button) {
    // As Telegram does: the bot's pre-checkout answer decides; a refusal shows the bot's reason.
    if (button.classList.contains("pending")) return;
    button.classList.add("pending");
    const answer = await postJson("/api/payments", { chat_id: view.chat_id, message_id: view.id });
    button.classList.remove("pending");
    if (answer === null) return;
    if (answer.paid) toast("Payment sent");
    else if (answer.timed_out) toast("The bot did not confirm the payment in time; nothing was charged.", true);
    else toast(answer.error_message || "The payment was refused.", true);
  }

  async function pressButton(key, view, data, button) {
    if (button.classList.contains("pending")) return;
    button.classList.add("pending");
    const answer = await postJson("/api/buttons", { chat_id: view.chat_id, message_id: view.id, data });
    if (answer === null) {
      button.classList.remove("pending");
      return;
    }
    const id = answer.callback_query_id;
    if (state.answered.delete(id)) {
      button.classList.remove("pending");
      return;
    }
    state.pending.set(id, button);
    setTimeout(() => {
      // Telegram stops the spinner after a while even if the bot never answers.
      if (state.pending.get(id) === button) {
        state.pending.delete(id);
        button.classList.remove("pending");
      }
    }, BUTTON_PENDING_MS);
  }

  async function postJson(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      toast("The sandbox is not reachable. Is it still running?");
      return null;
    }
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      toast(payload.error || `Request failed (${response.status})`);
      return null;
    }
    return payload;
  }

  function setReplyTo(view) {
    state.replyTo = view ? { id: view.id } : null;
    ui.replyBar.hidden = !view;
    if (view) {
      $(".reply-bar-title", ui.replyBar).textContent = `Reply to ${view.sender_name || "Reelay"}`;
      $(".reply-bar-text", ui.replyBar).textContent = view.text || view.caption || "";
      const placeholder = view.force_reply && view.force_reply.placeholder;
      ui.input.placeholder = placeholder || "Message";
      if (state.live) ui.input.focus();
    } else {
      ui.input.placeholder = "Message";
    }
  }

  function drawMenu() {
    ui.menu.replaceChildren();
    const commands = (state.bot && state.bot.commands) || [];
    ui.menuButton.hidden = commands.length === 0;
    for (const { command, description } of commands) {
      const item = element("button", "");
      item.type = "button";
      item.append(element("span", "command-name", `/${command}`), element("span", "command-description", description));
      item.addEventListener("click", () => {
        toggleMenu(false);
        sendText(`/${command}`);
      });
      ui.menu.append(item);
    }
  }

  function toggleMenu(open) {
    ui.menu.hidden = !open;
    ui.menuButton.setAttribute("aria-expanded", String(open));
  }

  function toast(text, alert = false) {
    clearTimeout(state.toastTimer);
    ui.toast.textContent = text;
    ui.toast.classList.toggle("alert", Boolean(alert));
    ui.toast.hidden = false;
    state.toastTimer = setTimeout(() => (ui.toast.hidden = true), alert ? TOAST_MS * 2 : TOAST_MS);
  }

  // ------------------------------------------------------------------ helpers

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatTime(seconds) {
    const date = new Date(seconds * 1000);
    return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
  }

  function formatDuration(seconds) {
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }

  // ------------------------------------------------------------------ wiring

  ui.composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = ui.input.value;
    if (!text.trim()) return;
    ui.send.disabled = true;
    try {
      if (await sendText(text)) {
        ui.input.value = "";
        autosize();
      }
    } finally {
      ui.send.disabled = false;
      ui.input.focus();
    }
  });
  ui.photoInput.addEventListener("change", async () => {
    const file = ui.photoInput.files[0];
    ui.photoInput.value = "";
    if (!file) return;
    if (await sendPhoto(file, ui.input.value)) {
      ui.input.value = "";
      autosize();
    }
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  const autosize = () => {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
  };
  ui.input.addEventListener("input", autosize);
  $(".reply-cancel").addEventListener("click", () => setReplyTo(null));
  $("[data-testid=start]").addEventListener("click", () => sendText("/start"));
  ui.menuButton.addEventListener("click", () => toggleMenu(ui.menu.hidden));
  document.addEventListener("click", (event) => {
    if (!ui.menu.hidden && !ui.menu.contains(event.target) && event.target !== ui.menuButton) toggleMenu(false);
  });
  ui.toast.addEventListener("click", () => (ui.toast.hidden = true));
  for (const [key, entry] of Object.entries(ui.entries)) entry.addEventListener("click", () => showChat(key));
  $(".back").addEventListener("click", () => ui.app.classList.remove("show-conversation"));

  connect();
})();
