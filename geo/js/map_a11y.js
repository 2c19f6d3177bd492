/* Lagebild: accessibility of Leaflet maps (WCAG 2.1 AA). Served by the app with the other
 * map assets (static/vendor/lagebild, copied by `python -m geo.assets`), never from a CDN.
 *
 * LagebildA11y.init(map, options) gives the map container a role, an accessible name and
 * keyboard instructions (Leaflet's keyboard handler pans with the arrow keys and zooms with
 * + and -), sets the document language, names markers and clusters after their tooltip,
 * translates the zoom buttons, moves focus into a popup when it opens, closes it with Esc
 * from anywhere in the map and returns focus to the marker that opened it.
 */
(function () {
  "use strict";

  function plain(html) {
    var box = document.createElement("div");
    box.innerHTML = html || "";  // Lagebild's tooltip HTML is escaped on the server
    return (box.textContent || "").replace(/\s+/g, " ").trim();
  }

  function nameLayer(layer, o) {
    var icon = layer && layer._icon;
    if (!icon) { return; }
    var name = "";
    if (typeof layer.getChildCount === "function") {
      name = o.cluster.replace("{n}", String(layer.getChildCount()));
    } else if (typeof layer.getTooltip === "function" && layer.getTooltip()) {
      name = plain(layer.getTooltip().getContent());
    }
    if (name) {
      icon.setAttribute("aria-label", name);
      if (!icon.getAttribute("title")) { icon.setAttribute("title", name); }
    }
  }

  function init(map, o) {
    var c = map.getContainer();
    if (o.lang) { document.documentElement.setAttribute("lang", o.lang); }
    try {
      if (window.frameElement && o.label) { window.frameElement.setAttribute("title", o.label); }
    } catch (e) { /* a frame of another origin: its title stays */ }
    var metas = document.querySelectorAll('meta[name="viewport"]');
    for (var i = 0; i < metas.length; i++) {  // let people zoom (WCAG 1.4.4)
      metas[i].setAttribute("content", "width=device-width, initial-scale=1");
    }
    if (document.body && c.parentNode && !document.querySelector("main, [role=main]")) {
      document.body.setAttribute("role", "main");  // the map frame's document is the map
      var h = document.createElement("h1");
      h.className = "lagebild-sr-only";
      h.textContent = o.label;
      document.body.insertBefore(h, document.body.firstChild);
    }
    c.setAttribute("role", "region");
    c.setAttribute("aria-roledescription", o.roledescription);
    c.setAttribute("aria-label", o.label);
    var help = document.createElement("p");
    help.id = "lagebild-map-help-" + L.stamp(map);
    help.className = "lagebild-sr-only";
    help.textContent = o.keys;
    c.appendChild(help);
    c.setAttribute("aria-describedby", help.id);
    if (map.zoomControl) {
      var zin = map.zoomControl._zoomInButton, zout = map.zoomControl._zoomOutButton;
      if (zin) { zin.setAttribute("title", o.zoomIn); zin.setAttribute("aria-label", o.zoomIn); }
      if (zout) { zout.setAttribute("title", o.zoomOut); zout.setAttribute("aria-label", o.zoomOut); }
    }
    map.eachLayer(function (layer) { nameLayer(layer, o); });
    map.on("layeradd", function (e) { nameLayer(e.layer, o); });

    var opener = null;
    map.on("popupopen", function (e) {
      var active = document.activeElement;
      opener = active && active !== document.body ? active : c;
      var el = e.popup.getElement();
      if (!el) { return; }
      el.setAttribute("role", "dialog");
      el.setAttribute("aria-label", o.popup);
      var close = el.querySelector(".leaflet-popup-close-button");
      if (close) { close.setAttribute("aria-label", o.close); close.setAttribute("title", o.close); }
      var content = el.querySelector(".leaflet-popup-content") || el;
      content.setAttribute("tabindex", "-1");
      content.focus({preventScroll: true});
    });
    map.on("popupclose", function () {
      var back = opener;
      opener = null;
      if (back && document.body.contains(back) && typeof back.focus === "function") {
        back.focus({preventScroll: true});
      }
    });
    document.addEventListener("keydown", function (ev) {
      if ((ev.key === "Escape" || ev.keyCode === 27) && map._popup && map.hasLayer(map._popup)) {
        map.closePopup();
        ev.preventDefault();
        ev.stopPropagation();
      }
    }, true);
  }

  window.LagebildA11y = {init: init};
})();
