/* The admin dashboard: refreshes the figures every 10 s, draws the history charts and runs the actions
   (after a confirmation dialog) through the monitoring API. Without this script the page still shows the
   figures and the actions work as plain forms with a confirmation page. */
(function () {
  "use strict";

  var REFRESH_MS = 10000;
  var SUMMARY_URL = "/api/v1/monitoring/metrics";
  var STATUS = { healthy: "Funcionando", degraded: "Instável", down: "Fora do ar" };
  var BREAKER = { closed: "fechado", open: "aberto", half_open: "meio-aberto", forced_open: "aberto à força",
                  disabled: "desativado" };
  var HEALTH = { healthy: "Saudável", degraded: "Com problemas", critical: "Crítico" };
  var SEVERITY = { warning: "Atenção", error: "Erro", critical: "Crítico" };
  var charts = {};
  var lastStates = {};

  function decimal(value, digits) {
    return value.toFixed(digits).replace(".", ",");
  }

  function dateTime(seconds) {
    return new Date(seconds * 1000).toLocaleString("pt-BR", { timeZone: "America/Sao_Paulo" });
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString("pt-BR", { timeZone: "America/Sao_Paulo",
                                                                   hour: "2-digit", minute: "2-digit" });
  }

  var FORMATS = {
    int: function (v) { return String(Math.round(v)); },
    number2: function (v) { return decimal(v, 2); },
    percent: function (v) { return decimal(v, 1) + " %"; },
    percent0: function (v) { return decimal(v, 0) + " %"; },
    ms: function (v) { return decimal(v, 1) + " ms"; },
    time: dateTime,
    health: function (v) { return HEALTH[v] || v; },
    alerts: function (v) {
      return v === 0 ? "nenhum alerta aberto" : (v === 1 ? "1 alerta aberto" : v + " alertas abertos");
    },
    backend: function (v) { return v === "redis" ? "Redis" : "memória"; },
    text: function (v) { return String(v); },
    sum: function (v) {
      return String(Object.keys(v).reduce(function (total, key) { return total + v[key]; }, 0));
    }
  };

  function pick(document_, path) {
    return path.split(".").reduce(function (value, key) {
      if (value === null || value === undefined) { return undefined; }
      return key === "length" && Array.isArray(value) ? value.length : value[key];
    }, document_);
  }

  function announce(text) {
    var region = document.getElementById("painel-aviso");
    if (region) { region.textContent = text; }
  }

  function showResult(text, isError) {
    var region = document.getElementById("acao-resultado");
    region.className = "alert " + (isError ? "alert--error" : "alert--success");
    region.textContent = text;
  }

  function fillFields(summary) {
    document.querySelectorAll("[data-field]").forEach(function (el) {
      var value = pick(summary, el.getAttribute("data-field"));
      var format = FORMATS[el.getAttribute("data-format")] || FORMATS.text;
      var known = value !== null && value !== undefined;
      if (el.getAttribute("data-format") === "int" && !known && el.getAttribute("data-field").indexOf("answers_by_path") >= 0) {
        value = 0; known = true;
      }
      el.textContent = known ? format(value) : "—";
    });
    var health = document.querySelector("[data-card='health']");
    if (health) { setState(health, summary.health.label); }
  }

  function setState(card, state) {
    card.className = card.className.replace(/\bcard--[a-z_]+/g, "").trim() + " card--" + state;
    card.setAttribute("data-state", state);
  }

  function fillDependencies(summary) {
    var changes = [];
    summary.dependencies.forEach(function (dep) {
      var card = document.querySelector("[data-dependency='" + dep.name + "']");
      if (!card) { return; }
      setState(card, dep.status);
      var set = function (field, text) {
        var el = card.querySelector("[data-dep-field='" + field + "']");
        if (el) { el.textContent = text; }
      };
      set("status", STATUS[dep.status] || dep.status);
      set("breaker", BREAKER[dep.breaker] || dep.breaker);
      set("calls", String(dep.calls));
      set("failures", String(dep.failures));
      set("rejected", String(dep.rejected));
      set("bulkhead_rejected", String(dep.bulkhead_rejected));
      set("last_error", dep.last_error ? "Último erro: " + dep.last_error + " (" + dateTime(dep.last_error_at) + ")"
                                       : "Sem erros recentes");
      if (lastStates[dep.name] && lastStates[dep.name] !== dep.status) {
        changes.push(dep.name + ": " + (STATUS[dep.status] || dep.status));
      }
      lastStates[dep.name] = dep.status;
    });
    if (changes.length) { announce("Mudança de estado. " + changes.join(". ")); }
  }

  function fillAlerts(summary) {
    var list = document.getElementById("alertas");
    var token = document.querySelector("input[name='csrf_token']").value;
    list.textContent = "";
    if (!summary.alerts.length) {
      var empty = document.createElement("li");
      empty.className = "alert-list__empty";
      empty.textContent = "Nenhum alerta ativo.";
      list.appendChild(empty);
      return;
    }
    summary.alerts.forEach(function (alert) {
      var item = document.createElement("li");
      item.className = "alert " + (alert.severity === "warning" ? "alert--warning" : "alert--error");
      var text = document.createElement("p");
      var strong = document.createElement("strong");
      strong.textContent = (SEVERITY[alert.severity] || alert.severity) + ": ";
      text.appendChild(strong);
      text.appendChild(document.createTextNode(alert.message + " (desde " +
        dateTime(Date.parse(alert.raised_at) / 1000) + ")"));
      item.appendChild(text);
      var form = document.createElement("form");
      form.method = "post";
      form.action = "/admin/acoes/alerta";
      form.className = "action-form";
      form.setAttribute("data-api", "/api/v1/monitoring/alerts/" + alert.id + "/resolve");
      [["csrf_token", token], ["alert_id", String(alert.id)]].forEach(function (pair) {
        var input = document.createElement("input");
        input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
        form.appendChild(input);
      });
      var button = document.createElement("button");
      button.type = "submit";
      button.textContent = "Marcar como resolvido";
      form.appendChild(button);
      item.appendChild(form);
      list.appendChild(item);
    });
  }

  function refresh() {
    return fetch(SUMMARY_URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("logged out"); }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (summary) {
        fillFields(summary);
        fillDependencies(summary);
        fillAlerts(summary);
      })
      .catch(function () {
        announce("Não foi possível atualizar o painel agora; nova tentativa em 10 segundos.");
      });
  }

  function renderTable(figure, points, unit) {
    var holder = figure.querySelector(".chart__table");
    holder.textContent = "";
    if (!points.length) {
      var none = document.createElement("p");
      none.className = "small";
      none.textContent = "Ainda não há amostras.";
      holder.appendChild(none);
      return;
    }
    var table = document.createElement("table");
    table.className = "data-table";
    var head = table.createTHead().insertRow();
    ["Horário", "Valor" + (unit ? " (" + unit + ")" : "")].forEach(function (label) {
      var th = document.createElement("th");
      th.scope = "col"; th.textContent = label;
      head.appendChild(th);
    });
    var body = table.createTBody();
    points.slice(-20).reverse().forEach(function (point) {
      var row = body.insertRow();
      row.insertCell().textContent = dateTime(point[0]);
      row.insertCell().textContent = point[1] === null ? "—" : decimal(point[1], 2);
    });
    holder.appendChild(table);
  }

  /* Points on a time axis, {x: ms, y: value}; a pause in the samples longer than three usual intervals becomes a
     gap in the line (a null point), so the chart never draws across a time with no data. */
  function timePoints(points) {
    var steps = [];
    for (var i = 1; i < points.length; i++) { steps.push(points[i][0] - points[i - 1][0]); }
    steps.sort(function (a, b) { return a - b; });
    var usual = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
    var out = [];
    points.forEach(function (p, index) {
      if (index > 0 && usual > 0 && p[0] - points[index - 1][0] > 3 * usual) {
        out.push({ x: (points[index - 1][0] + usual) * 1000, y: null });
      }
      out.push({ x: p[0] * 1000, y: p[1] });
    });
    return out;
  }

  function emptyReason(points) {
    if (!points.length) { return "Ainda não há amostras: o coletor grava uma a cada 30 segundos depois que o portal inicia."; }
    if (points.every(function (p) { return p[1] === null; })) {
      return "Sem valores neste período: nada foi medido nas amostras (por exemplo, nenhuma consulta ou pedido no intervalo).";
    }
    return "";
  }

  function showEmpty(figure, reason) {
    var note = figure.querySelector(".chart__empty");
    if (!note) {
      note = document.createElement("p");
      note.className = "chart__empty small";
      figure.querySelector(".chart__canvas").insertAdjacentElement("beforebegin", note);
    }
    note.textContent = reason;
    note.hidden = !reason;
  }

  function drawCharts() {
    document.querySelectorAll("figure.chart").forEach(function (figure) {
      var name = figure.getAttribute("data-metric");
      var unit = figure.getAttribute("data-unit");
      fetch(figure.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { points: [] }; })
        .then(function (data) {
          var points = data.points || [];
          renderTable(figure, points, unit);
          var reason = emptyReason(points);
          showEmpty(figure, reason);
          if (!window.Chart) { return; }
          var data = timePoints(points);
          if (charts[name]) {
            charts[name].data.datasets[0].data = data;
            charts[name].update("none");
            return;
          }
          /* No date adapter is vendored: a linear axis of timestamps, its ticks written as hh:mm. Straight segments
             (no smoothing) and no line across gaps; a lone sample shows as a dot. */
          charts[name] = new window.Chart(figure.querySelector("canvas"), {
            type: "line",
            data: { datasets: [{ label: figure.querySelector("figcaption").textContent,
                                 data: data, borderColor: "#0b3d68", backgroundColor: "#0b3d68", borderWidth: 2,
                                 pointRadius: 2, tension: 0, spanGaps: false }] },
            options: { animation: false, maintainAspectRatio: false,
                       plugins: { legend: { display: false },
                                  tooltip: { callbacks: { title: function (items) {
                                    return items.length ? dateTime(items[0].parsed.x / 1000) : ""; } } } },
                       scales: { y: { beginAtZero: true },
                                 x: { type: "linear", ticks: { maxTicksLimit: 6,
                                      callback: function (value) { return clock(value / 1000); } } } } }
          });
        })
        .catch(function () { /* the table keeps its last figures */ });
    });
  }

  function describe(form) {
    var kind = form.getAttribute("action").split("/").pop();
    if (kind === "cache") {
      var pattern = form.elements.pattern.value.trim();
      return "Limpar o cache “" + form.elements.namespace.value + "”" + (pattern ? " (padrão “" + pattern + "”)" : "") + "?";
    }
    if (kind === "disjuntor") {
      var select = form.elements.operacao;
      return "Disjuntor de " + form.elements.dependency.value + ": " + select.options[select.selectedIndex].text + "?";
    }
    return "Marcar este alerta como resolvido?";
  }

  function apiRequest(form) {
    var url = form.getAttribute("data-api");
    var body = {};
    if (form.elements.operacao && form.elements.dependency) {
      url = url.replace(/\/[a-z_]+$/, "/" + form.elements.operacao.value);
    }
    if (form.elements.namespace) {
      body = { namespace: form.elements.namespace.value, pattern: form.elements.pattern.value };
    }
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": form.elements.csrf_token.value },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function resultText(data) {
    if (data.dependency) { return "Disjuntor de " + data.dependency + ": agora " + (BREAKER[data.state] || data.state) + "."; }
    if (data.namespace !== undefined) {
      return data.pattern ? "Cache “" + data.namespace + "”: " + data.removed + " entrada(s) removida(s)."
                          : "Cache “" + data.namespace + "” limpo.";
    }
    if (data.alert) { return "Alerta marcado como resolvido."; }
    return "Ação concluída.";
  }

  function confirmThen(form) {
    var dialog = document.getElementById("confirmar");
    if (!dialog || typeof dialog.showModal !== "function") {
      form.submit();  // no dialog support: the server shows its confirmation page
      return;
    }
    var opener = document.activeElement;
    document.getElementById("confirmar-texto").textContent = describe(form);
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (opener && opener.focus) { opener.focus(); }
      if (dialog.returnValue !== "sim") { return; }
      apiRequest(form).then(function (result) {
        if (result.status === 401 && result.data.error && result.data.error.code === "reauthentication_required") {
          window.location.href = "/admin/reautenticar?next=/admin/dashboard";
          return;
        }
        if (result.status >= 400) {
          showResult(result.data.error ? result.data.error.message : "A ação não foi concluída.", true);
          return;
        }
        showResult(resultText(result.data), false);
        refresh();
      }).catch(function () { showResult("Não foi possível falar com o servidor. Tente de novo.", true); });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("action-form") || !form.getAttribute("data-api")) { return; }
    event.preventDefault();
    confirmThen(form);
  });

  document.querySelectorAll(".no-js-note").forEach(function (el) { el.hidden = true; });
  drawCharts();
  window.setInterval(function () { refresh(); drawCharts(); }, REFRESH_MS);
})();
