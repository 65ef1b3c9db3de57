// The trail on the person's map: the line, each position, and a slider to play the period back.
(function () {
  "use strict";
  var el = document.getElementById("trail-map");
  if (!el || !el._openemMap) { return; }
  var map = el._openemMap;
  var points = JSON.parse(document.getElementById(el.dataset.trail).textContent);
  if (!points.length) { return; }
  var latlngs = points.map(function (p) { return [p[0], p[1]]; });
  var line = L.polyline(latlngs, {color: "#0b0c0c", weight: 2, opacity: 0.7, className: "app-trail-line"}).addTo(map);
  var dots = L.layerGroup(points.map(function (p) {
    return L.circleMarker([p[0], p[1]], {radius: 2, color: "#505a5f", weight: 1, fillOpacity: 0.6});
  })).addTo(map);
  var here = L.circleMarker(latlngs[latlngs.length - 1], {radius: 7, color: "#ffffff", weight: 2,
    fillColor: "#d53880", fillOpacity: 1, className: "app-trail-here"}).addTo(map);
  var bounds = line.getBounds();
  map.fitBounds(bounds.pad(0.1), {maxZoom: 17});
  var slider = document.getElementById("trail-slider");
  var out = document.getElementById("trail-time");
  function show(i) {
    var p = points[i];
    here.setLatLng([p[0], p[1]]);
    var when = new Date(p[2] * 1000);
    out.textContent = when.toLocaleString("en-GB", {timeZone: "Europe/London", weekday: "short", day: "numeric",
      month: "short", hour: "2-digit", minute: "2-digit"}) + (p[3] ? " (±" + Math.round(p[3]) + " m)" : "");
  }
  slider.addEventListener("input", function () { show(+slider.value); });
  show(+slider.value);
  var timer = null;
  document.getElementById("trail-play").addEventListener("click", function (e) {
    if (timer) { clearInterval(timer); timer = null; e.target.textContent = "Play"; return; }
    if (+slider.value >= points.length - 1) { slider.value = 0; }
    e.target.textContent = "Pause";
    timer = setInterval(function () {
      if (+slider.value >= points.length - 1) { clearInterval(timer); timer = null; e.target.textContent = "Play"; return; }
      slider.value = +slider.value + 1;
      show(+slider.value);
    }, 40);
  });
  el.dataset.trailPoints = String(points.length);
  void dots;
})();
