/* The assistant page with JavaScript: questions go to POST /api/v1/chat, answers are appended to the
   conversation (an aria-live region) as text, and focus stays in the question box. Without JavaScript,
   or when the call cannot be made at all, the form posts the whole page as usual. Esc, when the chat is
   used as a widget (an element with data-chat-widget and its toggle), closes it and gives focus back. */
(function () {
  "use strict";
  var OFFICIAL = /^https?:\/\/([a-z0-9-]+\.)*(jus|gov|def)\.br(\/|$|[?#])/i;

  function safeHref(url) {
    if (typeof url !== "string") { return null; }
    if (url.charAt(0) === "/" && url.charAt(1) !== "/" && url.indexOf("\\") === -1) { return url; }
    return OFFICIAL.test(url) ? url : null;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* The answer's text with every official address in it made a link (text nodes and anchors: never HTML). */
  function linkedText(text) {
    var paragraph = element("p", "chat__text");
    var pattern = /https?:\/\/[^\s<>"')\]]+/g, last = 0, match;
    text = String(text);
    while ((match = pattern.exec(text)) !== null) {
      var url = match[0].replace(/[.,;:]+$/, "");
      var href = safeHref(url);
      if (!href) { continue; }
      paragraph.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = element("a", null, url);
      a.href = href;
      paragraph.appendChild(a);
      last = match.index + url.length;
    }
    paragraph.appendChild(document.createTextNode(text.slice(last)));
    return paragraph;
  }

  function messageItem(role, text, sources) {
    var item = element("li", "chat__msg chat__msg--" + (role === "user" ? "user" : "assistant"));
    item.appendChild(element("p", "chat__who", role === "user" ? "Você" : "Assistente"));
    item.appendChild(role === "user" ? element("p", "chat__text", text) : linkedText(text));
    var links = (sources || []).filter(function (source) { return source && safeHref(source.url); });
    if (links.length) {
      var box = element("div", "chat__sources");
      box.appendChild(element("p", "chat__sources-title", "Fontes:"));
      var list = element("ul");
      links.forEach(function (source) {
        var li = element("li");
        var a = element("a", null, String(source.title || source.url));
        a.href = safeHref(source.url);
        li.appendChild(a);
        list.appendChild(li);
      });
      box.appendChild(list);
      item.appendChild(box);
    }
    return item;
  }

  /* "Esta resposta ajudou?" under the last answer: a plain form post, as the page without JavaScript has it. */
  function ratingForm(csrf) {
    var form = element("form", "chat__rating");
    form.method = "post";
    form.action = "/assistente/avaliar";
    var hidden = element("input");
    hidden.type = "hidden";
    hidden.name = "csrf_token";
    hidden.value = csrf;
    form.appendChild(hidden);
    var set = element("fieldset");
    set.appendChild(element("legend", null, "Esta resposta ajudou?"));
    [["sim", "Sim"], ["nao", "Não"]].forEach(function (pair) {
      var button = element("button", null, pair[1]);
      button.type = "submit";
      button.name = "util";
      button.value = pair[0];
      set.appendChild(button);
      set.appendChild(document.createTextNode(" "));
    });
    form.appendChild(set);
    return form;
  }

  function setup(chat) {
    var form = chat.querySelector("#chat-form");
    var box = chat.querySelector("#mensagem");
    var log = chat.querySelector("#chat-log");
    var status = chat.querySelector("#chat-status");
    var errorBox = chat.querySelector("#mensagem-erro");
    var errorText = chat.querySelector("#mensagem-erro-texto");
    var button = chat.querySelector("#chat-enviar");
    var token = form.querySelector("input[name=csrf_token]");
    var maxChars = parseInt(chat.getAttribute("data-max-chars"), 10) || 1000;
    var sessionId = chat.getAttribute("data-session-id") || null;
    var busy = false;

    function showError(message) {
      errorText.textContent = message;
      errorBox.hidden = false;
      box.setAttribute("aria-invalid", "true");
      box.setAttribute("aria-describedby", "mensagem-ajuda mensagem-erro-texto");
      box.focus();
    }

    function clearError() {
      errorBox.hidden = true;
      errorText.textContent = "";
      box.removeAttribute("aria-invalid");
      box.setAttribute("aria-describedby", "mensagem-ajuda");
    }

    function finish() {
      busy = false;
      chat.removeAttribute("aria-busy");
      button.disabled = false;
    }

    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.JSON) { return; }  // the plain form post answers
      event.preventDefault();
      if (busy) { return; }
      var text = box.value.trim();
      if (!text) { showError("Escreva a sua pergunta antes de enviar."); return; }
      if (text.length > maxChars) {
        showError("A mensagem tem " + text.length + " caracteres e o limite é " + maxChars + ". Escreva uma pergunta mais curta.");
        return;
      }
      clearError();
      busy = true;
      chat.setAttribute("aria-busy", "true");
      button.disabled = true;
      status.textContent = "Enviando a pergunta…";
      log.appendChild(messageItem("user", text, []));
      fetch(chat.getAttribute("data-endpoint"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify({ message: text, session_id: sessionId })
      }).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          return { status: response.status, body: body };
        });
      }).then(function (result) {
        finish();
        if (result.status === 200 && result.body && typeof result.body.answer === "string") {
          sessionId = result.body.session_id || sessionId;
          chat.setAttribute("data-session-id", sessionId || "");
          var answerItem = messageItem("assistant", result.body.answer, result.body.sources);
          Array.prototype.forEach.call(log.querySelectorAll(".chat__rating"), function (old) {
            old.parentNode.removeChild(old);
          });
          answerItem.appendChild(ratingForm(token ? token.value : ""));
          log.appendChild(answerItem);
          status.textContent = "Resposta recebida.";
          box.value = "";
          box.focus();
          return;
        }
        log.removeChild(log.lastChild);
        var message = result.body && result.body.error && result.body.error.message;
        showError(message || "Não foi possível enviar a pergunta agora. Tente de novo em instantes.");
        status.textContent = "";
      }).catch(function () {
        // No answer at all (offline, blocked): let the browser post the form the classic way.
        finish();
        form.submit();
      });
    });

    box.addEventListener("keydown", function (event) {
      // Enter sends, Shift+Enter makes a new line (as in most chats).
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.dispatchEvent(new Event("submit", { cancelable: true })); }
      }
    });
  }

  function setupWidget(widget) {
    var toggle = document.querySelector("[aria-controls='" + widget.id + "']");
    if (!toggle) { return; }
    toggle.addEventListener("click", function () {
      var open = widget.hidden;
      widget.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) { var first = widget.querySelector("textarea, input, button"); if (first) { first.focus(); } }
    });
    widget.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !widget.hidden) {
        widget.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var chat = document.getElementById("assistente");
    if (chat) { setup(chat); }
    Array.prototype.forEach.call(document.querySelectorAll("[data-chat-widget]"), setupWidget);
  });
}());
