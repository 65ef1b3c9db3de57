// Drawing and editing a zone on the condition form's map with Leaflet-Geoman. The form's fields stay the
// record that is saved: drawing fills them in (lat, lon and radius for a circle, the GeoJSON for a polygon),
// and typing in them redraws the shape. Without JavaScript the fields work as before.
(function () {
  "use strict";
  var form = document.getElementById("condition-form");
  var el = document.getElementById("map");
  if (!form || !form.hasAttribute("data-draw-zone") || !el || !el._openemMap || !L.PM) { return; }
  var map = el._openemMap;
  var lat = form.elements.namedItem("lat");
  var lon = form.elements.namedItem("lon");
  var radius = form.elements.namedItem("radius_m");
  var geojson = form.elements.namedItem("geojson");
  var status = document.getElementById("zone-draw-status");
  // The zone's own colour (map.js), drawn bolder while it is being edited.
  var colour = form.dataset.drawZone === "inclusion_zone" ? "#00703c" : "#d4351c";
  var STYLE = {color: colour, fillColor: colour, fillOpacity: 0.2, weight: 3};
  var drawn = null;
  var label = null;  // the varied zone's tooltip and popup (text nodes from map.js), kept on its new shape

  function shape() {
    var checked = form.querySelector("input[name=shape]:checked");
    return checked ? checked.value : "circle";
  }

  function setShape(value) {
    form.querySelectorAll("input[name=shape]").forEach(function (r) { r.checked = r.value === value; });
  }

  function round(x, places) {
    var f = Math.pow(10, places);
    return Math.round(x * f) / f;
  }

  function say(text) {
    if (status) { status.textContent = text; }
  }

  // The zone being varied is drawn by map.js among the order's others: the editable copy takes its place.
  if (form.dataset.editing && el._openemLayers) {
    el._openemLayers.eachLayer(function (layer) {
      if (layer.options.openemCondition === form.dataset.editing) {
        label = {tooltip: layer.getTooltip().getContent(), popup: layer.getPopup().getContent()};
        el._openemLayers.removeLayer(layer);
      }
    });
  }

  // Drawing -> fields. Six decimal places of a degree are about 10 cm: more would be noise.
  function fromDrawing() {
    if (!drawn) { return; }
    if (drawn instanceof L.Circle) {
      var c = drawn.getLatLng();
      setShape("circle");
      lat.value = round(c.lat, 6);
      lon.value = round(c.lng, 6);
      radius.value = Math.max(1, Math.round(drawn.getRadius()));
      say("Circle of " + radius.value + " m around " + lat.value + ", " + lon.value + ".");
    } else {
      setShape("polygon");
      geojson.value = JSON.stringify(drawn.toGeoJSON(6).geometry);
      say("Polygon of " + drawn.getLatLngs().flat(Infinity).length + " corners.");
    }
  }

  function keep(layer) {
    if (drawn && drawn !== layer) { map.removeLayer(drawn); }
    drawn = layer;
    if (!layer) { return; }
    layer.setStyle(STYLE);
    if (label) {
      layer.bindTooltip(label.tooltip);
      layer.bindPopup(label.popup);
    }
    if (!map.hasLayer(layer)) { layer.addTo(map); }
    // Always editable: drag a corner or the circle's edge, or the whole shape, and the fields follow.
    layer.pm.enable({allowSelfIntersection: false, draggable: true, snappable: false});
    layer.on("pm:edit pm:change pm:dragend pm:vertexremoved", fromDrawing);
  }

  // Fields -> drawing. Anything that is not yet a whole shape (a half-typed number) draws nothing.
  function fromFields() {
    var layer = null;
    if (shape() === "circle") {
      var a = parseFloat(lat.value), o = parseFloat(lon.value), r = parseFloat(radius.value);
      if (isFinite(a) && isFinite(o) && isFinite(r) && r > 0 && Math.abs(a) <= 90 && Math.abs(o) <= 180) {
        layer = L.circle([a, o], Object.assign({radius: r}, STYLE));
      }
    } else {
      var g = null;
      try { g = JSON.parse(geojson.value); } catch (e) { g = null; }
      if (g && (g.type === "Polygon" || g.type === "MultiPolygon") && Array.isArray(g.coordinates)) {
        try {
          layer = L.polygon(L.GeoJSON.coordsToLatLngs(g.coordinates, g.type === "Polygon" ? 1 : 2), STYLE);
        } catch (e) { layer = null; }
      }
    }
    keep(layer);
    return layer;
  }

  function showDrawn() {
    if (drawn) { map.fitBounds(drawn.getBounds().pad(0.3), {maxZoom: 17}); }
  }

  map.pm.addControls({
    position: "topleft",
    drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawText: false,
    drawRectangle: true, drawPolygon: true, drawCircle: true,
    editMode: false, dragMode: false, cutPolygon: false, removalMode: false, rotateMode: false
  });
  map.pm.setPathOptions(STYLE);
  map.pm.setGlobalOptions({snappable: false, allowSelfIntersection: false});
  map.on("pm:create", function (e) {
    keep(e.layer);
    fromDrawing();
  });
  [lat, lon, radius, geojson].forEach(function (input) {
    input.addEventListener("input", fromFields);
    input.addEventListener("change", showDrawn);
  });
  form.querySelectorAll("input[name=shape]").forEach(function (r) {
    r.addEventListener("change", function () { fromFields(); showDrawn(); });
  });
  if (fromFields()) {
    showDrawn();
    say(shape() === "circle" ? "The circle from the form is on the map: drag its centre or edge to change it."
      : "The polygon from the form is on the map: drag its corners to change it.");
  }
  el.classList.add("app-map--drawing");
})();
