// A crime match on the map: the crime's location and its distance circle, the trail in the window, each
// position numbered as in the table, with its confidence circle (bold for the positions that were near).
// Data comes from json_script; every label is built with textContent, never as HTML.
(function () {
  "use strict";
  var el = document.getElementById("match-map");
  if (!el || !el._openemMap) { return; }
  var map = el._openemMap;
  var data = JSON.parse(document.getElementById(el.dataset.match).textContent);
  function label(className, text) {
    var node = document.createElement("span");
    node.textContent = text;
    return L.divIcon({className: className, html: node, iconSize: null, iconAnchor: [-6, 16]});
  }
  function uk(t) {
    return new Date(t * 1000).toLocaleString("en-GB", {timeZone: "Europe/London", hour: "2-digit",
      minute: "2-digit", second: "2-digit", day: "numeric", month: "short"});
  }
  var c = data.crime;
  var bounds = L.latLng(c.lat, c.lon).toBounds(c.radius_m * 3);
  L.circle([c.lat, c.lon], {radius: c.radius_m, color: "#d4351c", weight: 2, dashArray: "6 4",
    fillColor: "#d4351c", fillOpacity: 0.08}).addTo(map);
  L.circleMarker([c.lat, c.lon], {radius: 7, color: "#ffffff", weight: 2, fillColor: "#d4351c", fillOpacity: 1})
    .bindTooltip(document.createTextNode("Crime " + c.reference)).addTo(map);
  L.marker([c.lat, c.lon], {icon: label("app-crime-label", "Crime " + c.reference), interactive: false}).addTo(map);
  var fixes = data.fixes;
  if (fixes.length) {
    L.polyline(fixes.map(function (f) { return [f[0], f[1]]; }), {color: "#0b0c0c", weight: 2, opacity: 0.6}).addTo(map);
  }
  var near = 0;
  fixes.forEach(function (f) {
    var isNear = f[5];
    var colour = isNear ? "#1d70b8" : "#6f777b";
    if (f[3]) {
      L.circle([f[0], f[1]], {radius: f[3], color: colour, weight: isNear ? 2 : 1, opacity: isNear ? 0.9 : 0.4,
        fillOpacity: isNear ? 0.12 : 0.03, interactive: false}).addTo(map);
    }
    L.circleMarker([f[0], f[1]], {radius: isNear ? 5 : 3, color: "#ffffff", weight: 1, fillColor: colour, fillOpacity: 1})
      .bindTooltip(document.createTextNode("No. " + f[4] + ", " + uk(f[2]) + (f[3] ? " (±" + Math.round(f[3]) + " m)" : "")))
      .addTo(map);
    if (isNear) {
      near += 1;
      bounds.extend(L.latLng(f[0], f[1]).toBounds((f[3] || 10) * 2));
      L.marker([f[0], f[1]], {icon: label("app-fix-number", String(f[4])), interactive: false}).addTo(map);
    }
  });
  map.fitBounds(bounds.pad(0.15), {maxZoom: 18});
  el.dataset.nearFixes = String(near);
  el.dataset.fixes = String(fixes.length);
})();
