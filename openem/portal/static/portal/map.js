// Draws an order's zones, curfew addresses and appointment places with Leaflet.
// Works offline: the layers are our own vector data; a tile server is optional (OPENEM_TILE_URL).
(function () {
  "use strict";
  var STYLES = {
    exclusion_zone: {color: "#d4351c", fillColor: "#d4351c", fillOpacity: 0.25, weight: 2},
    inclusion_zone: {color: "#00703c", fillColor: "#00703c", fillOpacity: 0.08, weight: 2, dashArray: "6 4"},
    unmonitored: {color: "#b58800", fillColor: "#ffdd00", fillOpacity: 0.2, weight: 2, dashArray: "2 4"},
    curfew: {color: "#1d70b8", fillColor: "#1d70b8", fillOpacity: 0.35, weight: 2},
    attendance: {color: "#4c2c92", fillColor: "#4c2c92", fillOpacity: 0.3, weight: 2}
  };

  // Labels come from data (zone names, addresses, places): they are text, never HTML. Leaflet reads a
  // string given to a tooltip, popup or icon as HTML, so every label goes in as a DOM node built with
  // textContent.
  function textNode(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    node.textContent = text;
    return node;
  }

  function popupFor(props) {
    var box = document.createElement("div");
    box.className = "app-map-popup";
    box.appendChild(textNode("p", "app-map-popup__title", props.label));
    box.appendChild(textNode("p", "app-map-popup__line", "Condition " + props.condition + " of order " + props.order));
    if (props.kind.indexOf("zone") >= 0) {
      box.appendChild(textNode("p", "app-map-popup__line",
        props.monitored ? "GPS-monitored" : "Not monitored: raises no alerts"));
    }
    return box;
  }

  function styleFor(props) {
    if ((props.kind === "exclusion_zone" || props.kind === "inclusion_zone") && !props.monitored) {
      return STYLES.unmonitored;
    }
    return STYLES[props.kind] || STYLES.curfew;
  }

  // Offline background: roads and towns from OpenEM's own OpenStreetMap extract, fetched once a page.
  var roadsData = null;
  function addRoads(map) {
    map.createPane("roads");
    map.getPane("roads").style.zIndex = 350;
    var load = roadsData || (roadsData = fetch("/map/roads.geojson", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; }));
    load.then(function (data) {
      if (!data) { return; }
      L.geoJSON(data, {
        pane: "roads",
        interactive: false,
        pmIgnore: true,
        style: function (f) { return {color: "#b1b4b6", weight: f.properties.r + 0.5, opacity: 0.9}; },
        pointToLayer: function (f, latlng) {
          return L.marker(latlng, {pane: "roads", interactive: false, pmIgnore: true, icon: L.divIcon({
            className: "app-place-label", html: textNode("span", "", f.properties.place), iconSize: null})});
        }
      }).addTo(map);
      map.attributionControl.addAttribution("© OpenStreetMap contributors");
    });
  }

  function draw(el) {
    var data = JSON.parse(document.getElementById(el.dataset.features).textContent);
    var map = L.map(el, {zoomSnap: 0.5, attributionControl: true});
    // The tile server is the deployer's setting (OPENEM_TILE_URL), passed as data- attributes.
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, {maxZoom: 19, attribution: el.dataset.tileAttribution || ""}).addTo(map);
    } else {
      el.classList.add("app-map--no-tiles");
      addRoads(map);
    }
    L.control.scale({imperial: false}).addTo(map);
    var group = L.featureGroup();
    var bounds = L.latLngBounds([]);
    data.forEach(function (f) {
      // pmIgnore: where the zone drawing tools are loaded (zone_draw.js), the order's other layers stay as
      // they are; only the zone being drawn is editable.
      var style = Object.assign({pmIgnore: true}, styleFor(f.properties));
      var layer;
      if (f.geometry.type === "Point" && f.properties.radius_m) {
        var c = f.geometry.coordinates;
        layer = L.circle([c[1], c[0]], Object.assign({radius: f.properties.radius_m}, style));
        // A circle's own getBounds needs a map view; compute it from the radius instead.
        bounds.extend(L.latLng(c[1], c[0]).toBounds(f.properties.radius_m * 2));
      } else {
        layer = L.geoJSON(f, {style: function () { return style; }, pmIgnore: true});
        bounds.extend(layer.getBounds());
      }
      var label = f.properties.label + " (" + f.properties.condition + ")";
      if (f.properties.kind.indexOf("zone") >= 0) {
        label += f.properties.monitored ? " – GPS-monitored" : " – not monitored, raises no alerts";
      }
      layer.bindTooltip(textNode("span", "app-map-tooltip", label));
      layer.bindPopup(popupFor(f.properties));
      layer.options.openemKind = f.properties.kind;
      layer.options.openemCondition = f.properties.condition;
      group.addLayer(layer);
    });
    if (bounds.isValid()) {
      map.fitBounds(bounds.pad(0.15), {maxZoom: 17});
    } else {
      map.setView([52.67, -0.73], 12);
    }
    group.addTo(map);
    el.dataset.layerCount = String(group.getLayers().length);
    el._openemMap = map;
    el._openemLayers = group;
    el.classList.add("app-map--ready");
  }

  document.querySelectorAll(".app-map").forEach(draw);
})();
