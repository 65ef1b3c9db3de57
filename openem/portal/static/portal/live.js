// Live pages (openem/portal/live.py): htmx replaces each [data-live] region with the same region of the page
// fetched again. This file keeps what the user was doing across a refresh (text typed, boxes ticked, details
// opened), says when the page could not be refreshed, and announces a critical incident that was not on the
// page before, with a short sound on the monitoring centre's pages when the operator has asked for one.
// No inline script or style anywhere (Content-Security-Policy): everything is built with DOM methods.
(function () {
  "use strict";
  var SOUND_KEY = "openem-live-sound";
  var kept = {};  // region id -> what the user had changed in it, between a swap and its arrival
  var seen = {};  // critical incidents already on the page (announced or there from the start)
  var audio = null;

  function fields(region) {
    return Array.prototype.slice.call(region.querySelectorAll("input[id], textarea[id], select[id]"));
  }

  function changed(field) {
    if (field.type === "hidden" || field.type === "submit") { return false; }
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  function detailsKey(details) {
    var summary = details.querySelector("summary");
    return details.id || (summary ? summary.textContent.trim() : "");
  }

  function remember(region) {
    var state = { values: [], open: [], alerts: [] };
    region.querySelectorAll("[data-live-alert][id]").forEach(function (el) { state.alerts.push(el.id); });
    fields(region).forEach(function (f) {
      if (changed(f)) { state.values.push({ id: f.id, value: f.value, checked: f.checked }); }
    });
    region.querySelectorAll("details[open]").forEach(function (d) { state.open.push(detailsKey(d)); });
    kept[region.id] = state;
  }

  function restore(region) {
    var state = kept[region.id];
    delete kept[region.id];
    if (!state) { return; }
    state.values.forEach(function (v) {
      var f = document.getElementById(v.id);
      if (!f || !region.contains(f)) { return; }
      if (f.type === "checkbox" || f.type === "radio") { f.checked = v.checked; } else { f.value = v.value; }
    });
    region.querySelectorAll("details").forEach(function (d) {
      if (state.open.indexOf(detailsKey(d)) !== -1) { d.open = true; }
    });
    // A refresh sends a banner that was already there as a plain region, so it is not read out again at
    // every refresh; one that has just appeared is put in as an alert, which is read out.
    region.querySelectorAll("[data-live-alert][id]").forEach(function (el) {
      if (state.alerts.indexOf(el.id) !== -1) { return; }
      var copy = el.cloneNode(true);
      copy.setAttribute("role", "alert");
      el.replaceWith(copy);
    });
  }

  function criticalOnPage() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-critical]"));
  }

  function beep() {
    var box = document.getElementById("live-sound");
    if (!box || !box.checked) { return; }
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    audio = audio || new Context();
    if (audio.state === "suspended") { audio.resume(); }
    // Two short tones: noticeable over a busy room, not an alarm bell.
    [0, 0.25].forEach(function (offset) {
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = 880;
      var t = audio.currentTime + offset;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.18);
      tone.connect(gain).connect(audio.destination);
      tone.start(t);
      tone.stop(t + 0.2);
    });
    // Counted on the page, so that the browser tests can tell a sound was made.
    document.body.setAttribute("data-live-beeped", String(Number(document.body.getAttribute("data-live-beeped") || 0) + 1));
  }

  function announce(items) {
    var main = document.getElementById("main-content");
    if (!main || !items.length) { return; }
    var banner = document.createElement("div");
    banner.className = "govuk-notification-banner app-banner--critical app-live-announcement";
    banner.setAttribute("role", "alert");
    banner.setAttribute("aria-labelledby", "live-announcement-title-" + items[0].id);
    var header = document.createElement("div");
    header.className = "govuk-notification-banner__header";
    var title = document.createElement("h2");
    title.className = "govuk-notification-banner__title";
    title.id = "live-announcement-title-" + items[0].id;
    title.textContent = items.length === 1 ? "New critical incident" : items.length + " new critical incidents";
    header.appendChild(title);
    var content = document.createElement("div");
    content.className = "govuk-notification-banner__content";
    items.forEach(function (item) {
      var p = document.createElement("p");
      p.className = "govuk-notification-banner__heading";
      var link = document.createElement("a");
      link.className = "govuk-notification-banner__link";
      link.href = item.href;
      link.textContent = item.headline;
      p.appendChild(link);
      content.appendChild(p);
    });
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "govuk-button govuk-button--secondary govuk-!-margin-bottom-0";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", function () { banner.remove(); });
    content.appendChild(dismiss);
    banner.appendChild(header);
    banner.appendChild(content);
    // A reader scrolled down the page keeps their place: what they were reading does not move down under
    // them (role="alert" still has it read out; the banner is at the top when they go back up).
    var anchor = main.firstElementChild;
    var before = anchor ? anchor.getBoundingClientRect().top : 0;
    main.insertBefore(banner, main.firstChild);
    if (anchor && window.scrollY > 0) { window.scrollBy(0, anchor.getBoundingClientRect().top - before); }
    beep();
  }

  function checkForNewCritical() {
    var fresh = [];
    criticalOnPage().forEach(function (el) {
      var id = el.getAttribute("data-live-critical");
      if (seen[id]) { return; }
      seen[id] = true;
      fresh.push({ id: id, headline: el.getAttribute("data-live-headline") || "Critical incident", href: el.getAttribute("data-live-href") || "#" });
    });
    announce(fresh);
  }

  function markStale(region, why) {
    var note = region.querySelector("[data-live-note]");
    if (!note) { return; }
    var at = note.querySelector("[data-live-at]");
    if (at) { note.setAttribute("data-live-last", at.textContent); }
    var last = note.getAttribute("data-live-last");
    note.textContent = why + (last ? " Last updated at " + last + "." : "");
    note.classList.add("app-live-note--stale");
  }

  function setUpSound() {
    var box = document.getElementById("live-sound");
    if (!box) { return; }
    var wrapper = box.closest("[data-live-sound]");
    if (wrapper) { wrapper.hidden = false; }
    try { box.checked = window.localStorage.getItem(SOUND_KEY) === "on"; } catch (e) { box.checked = false; }
    box.addEventListener("change", function () {
      try { window.localStorage.setItem(SOUND_KEY, box.checked ? "on" : "off"); } catch (e) { /* private mode */ }
      if (box.checked) {
        // Browsers let a page play sound only after the user has done something on it: this tick is that.
        var Context = window.AudioContext || window.webkitAudioContext;
        if (Context) { audio = audio || new Context(); audio.resume(); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    criticalOnPage().forEach(function (el) { seen[el.getAttribute("data-live-critical")] = true; });
    setUpSound();
  });

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var region = evt.detail.target;
    if (region && region.hasAttribute && region.hasAttribute("data-live")) { remember(region); }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    var region = evt.target;
    if (!region.hasAttribute || !region.hasAttribute("data-live")) { return; }
    restore(region);
    checkForNewCritical();
  });

  function stopRefreshing(region) {
    // htmx polls an element only while it is in the page: a copy without the htmx attributes replaces it.
    var still = region.cloneNode(true);
    ["hx-get", "hx-trigger", "hx-select", "hx-select-oob", "hx-target", "hx-swap", "hx-headers"].forEach(function (a) {
      still.removeAttribute(a);
    });
    region.replaceWith(still);
    return still;
  }

  document.addEventListener("htmx:responseError", function (evt) {
    var region = evt.detail.elt;
    if (!region || !region.hasAttribute("data-live")) { return; }
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    if (status >= 500) {
      markStale(region, "Not updating: the portal had a problem. It will try again.");
      return;
    }
    // Refused or gone (the case moved to someone else, the record was deleted): asking again every few
    // seconds would only fill the audit log with refusals.
    markStale(stopRefreshing(region), "This page can no longer be updated (you may no longer have access to it): reload it.");
  });

  document.addEventListener("htmx:sendError", function (evt) {
    var region = evt.detail.elt;
    if (region && region.hasAttribute("data-live")) {
      markStale(region, "Not updating: the portal cannot be reached. It will try again.");
    }
  });
})();
