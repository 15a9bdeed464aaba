// Live score while answering: posts the answers on screen to the score preview (which stores
// nothing) and updates the panel. Without JavaScript the panel shows the saved answers' score.
(function () {
  "use strict";
  var form = document.getElementById("section-form");
  var panel = document.getElementById("score-panel");
  if (!form || !panel || !window.fetch) { return; }
  var token = form.querySelector("input[name=csrf_token]").value;
  var dirty = false;

  function answersOnScreen() {
    var answers = {};
    form.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
      if (input.value) { answers[input.name.replace(/^answer-/, "")] = input.value; }
    });
    return answers;
  }

  function set(field, text) {
    var node = panel.querySelector('[data-field="' + field + '"]');
    if (node) { node.textContent = text; }
  }

  function render(result) {
    set("score", result.score === null ? "—" : result.score.toFixed(1));
    var rating = panel.querySelector('[data-field="rating"] .rating');
    if (rating) {
      rating.textContent = result.rating || "–";
      rating.className = "rating rating-" + (result.rating || "none");
    }
    set("completion", result.completion);
    var bar = panel.querySelector('[data-field="completion-bar"]');
    if (bar) { bar.value = result.completion; }
    var caps = panel.querySelector('[data-field="caps"]');
    if (caps) {
      caps.textContent = "";
      result.caps.forEach(function (cap) {
        var li = document.createElement("li");
        li.className = cap.applied ? "cap-applied" : "cap-other";
        li.textContent = cap.sentence;
        caps.appendChild(li);
      });
    }
    result.sections.forEach(function (section) {
      var node = document.querySelector('[data-section-completion="' + section.ref + '"]');
      if (node) { node.textContent = Math.round(section.completion) + "%"; }
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.type !== "radio") { return; }
    dirty = true;
    fetch(form.dataset.preview, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ answers: answersOnScreen() })
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (result) {
      if (result) { render(result); }
    }).catch(function () { /* the panel keeps the saved score */ });
  });
  form.addEventListener("input", function (event) {
    // choosing an evidence file is not an unsaved answer: it is sent by its own upload form
    if (event.target.type !== "file") { dirty = true; }
  });
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
})();
