// A crime match on the map: the crime's location and its distance circle, the trail in the window, each
// position with its confidence circle (bold for the positions that were near), the near positions numbered
// as in the table. Near positions crowd together (someone who stood still); a number is drawn only where it
// overprints no other number, tried right, left, above, below and on the diagonals, and the numbering is
// worked out again at every zoom. Every position's number and time is in its tooltip and in the table.
// Data comes from json_script; every label is built with textContent, never as HTML.
(function () {
  "use strict";
  var el = document.getElementById("match-map");
  if (!el || !el._openemMap) { return; }
  var map = el._openemMap;
  var data = JSON.parse(document.getElementById(el.dataset.match).textContent);
  var note = document.getElementById("match-map-note");
  var LABEL_H = 16, GAP = 5;
  var measure = document.createElement("canvas").getContext("2d");
  function width(text, font) {  // the label's width in pixels, as the browser sets the text
    measure.font = font;
    return Math.ceil(measure.measureText(text).width) + 6;
  }

  function uk(t) {
    return new Date(t * 1000).toLocaleString("en-GB", {timeZone: "Europe/London", hour: "2-digit",
      minute: "2-digit", second: "2-digit", day: "numeric", month: "short", timeZoneName: "short"});
  }
  function icon(className, text, w, anchor) {
    var node = document.createElement("span");
    node.textContent = text;
    return L.divIcon({className: className, html: node, iconSize: [w, LABEL_H], iconAnchor: anchor});
  }

  var c = data.crime;
  var crimeAt = L.latLng(c.lat, c.lon);
  var bounds = crimeAt.toBounds(c.radius_m * 3);
  L.circle(crimeAt, {radius: c.radius_m, color: "#d4351c", weight: 2, dashArray: "6 4",
    fillColor: "#d4351c", fillOpacity: 0.08, interactive: false}).addTo(map);
  var fixes = data.fixes;  // [lat, lon, t, accuracy, number, near, outside the window, why near]
  if (fixes.length) {
    L.polyline(fixes.map(function (f) { return [f[0], f[1]]; }), {color: "#0b0c0c", weight: 2, opacity: 0.6,
      interactive: false}).addTo(map);
  }
  var numbered = [];
  fixes.forEach(function (f) {
    var isNear = f[5], outside = f[6];
    var colour = isNear ? "#1d70b8" : "#6f777b";
    if (f[3]) {
      L.circle([f[0], f[1]], {radius: f[3], color: colour, weight: isNear ? 2 : 1, opacity: isNear ? 0.9 : 0.4,
        fillOpacity: isNear ? 0.12 : 0.03, interactive: false}).addTo(map);
    }
    var text = "No. " + f[4] + (outside ? " (outside the window)" : "") + ", " + uk(f[2]) +
      (f[3] ? " (\u00b1" + Math.round(f[3]) + " m)" : "") + (f[7] ? "; near: " + f[7] : "");
    L.circleMarker([f[0], f[1]], {radius: isNear ? 5 : 3, color: outside ? colour : "#ffffff", weight: outside ? 2 : 1,
      fillColor: outside ? "#ffffff" : colour, fillOpacity: 1})
      .bindTooltip(document.createTextNode(text)).addTo(map);
    if (isNear) {
      bounds.extend(L.latLng(f[0], f[1]).toBounds((f[3] || 10) * 2));
      numbered.push(f);
    }
  });
  L.circleMarker(crimeAt, {radius: 7, color: "#ffffff", weight: 2, fillColor: "#d4351c", fillOpacity: 1})
    .bindTooltip(document.createTextNode("Crime " + c.reference)).addTo(map);
  // The first and last near positions are numbered first: where the approach began and ended.
  if (numbered.length > 2) {
    numbered = [numbered[0], numbered[numbered.length - 1]].concat(numbered.slice(1, -1));
  }

  var labels = L.layerGroup().addTo(map);
  function overlaps(box, taken) {
    for (var i = 0; i < taken.length; i++) {
      var b = taken[i];
      if (box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]) { return true; }
    }
    return false;
  }
  function place(p, w, taken, gap) {
    // Offsets of the label's top-left corner from the point, in the order tried.
    var tries = [[gap + 2, -LABEL_H / 2], [-gap - 2 - w, -LABEL_H / 2], [-w / 2, -gap - LABEL_H], [-w / 2, gap],
      [gap, -gap - LABEL_H], [-gap - w, -gap - LABEL_H], [gap, gap], [-gap - w, gap]];
    for (var i = 0; i < tries.length; i++) {
      var box = [p.x + tries[i][0], p.y + tries[i][1], p.x + tries[i][0] + w, p.y + tries[i][1] + LABEL_H];
      if (!overlaps(box, taken)) { taken.push(box); return tries[i]; }
    }
    return null;
  }
  function number() {
    labels.clearLayers();
    var taken = [];
    // The crime's name first, beside its marker (nothing is placed yet: the first place tried is free);
    // then no number over either.
    var p = map.latLngToLayerPoint(crimeAt);
    var crimeText = "Crime " + c.reference;
    var cw = width(crimeText, "700 13px arial, sans-serif");
    var at = place(p, cw, taken, 8);
    taken.push([p.x - 8, p.y - 8, p.x + 8, p.y + 8]);
    labels.addLayer(L.marker(crimeAt, {icon: icon("app-crime-label", crimeText, cw, [-at[0], -at[1]]),
      interactive: false, keyboard: false}));
    var shown = 0;
    numbered.forEach(function (f) {
      var q = map.latLngToLayerPoint([f[0], f[1]]);
      var text = String(f[4]);
      var w = width(text, "700 12px arial, sans-serif");
      var off = place(q, w, taken, GAP);
      if (off) {
        shown += 1;
        labels.addLayer(L.marker([f[0], f[1]], {icon: icon("app-fix-number", text, w, [-off[0], -off[1]]),
          interactive: false, keyboard: false}));
      }
    });
    var left = numbered.length - shown;
    el.dataset.numbered = String(shown);
    el.dataset.unnumbered = String(left);
    if (note) {
      note.textContent = left ? left + " of the " + numbered.length + " near positions are not numbered at this " +
        "zoom: they are too close to others. Zoom in, or hold the pointer over a position; every position is " +
        "numbered in the table." : "";
    }
  }
  map.on("zoomend", number);
  map.fitBounds(bounds.pad(0.15), {maxZoom: 18});
  number();
  el.dataset.nearFixes = String(fixes.filter(function (f) { return f[5]; }).length);
  el.dataset.fixes = String(fixes.length);
})();
