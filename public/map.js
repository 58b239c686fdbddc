// The map of where recordings were made (/map) and a recording's own small map: Leaflet
// (public/vendor/, served by this site) over the configured tile server, markers clustered.
// The page works without this file: /map lists the recordings by place, and a recording's
// page says its coordinates. Without tiles (offline, blocked) the markers still show, over
// the plain background.
(function () {
  'use strict';
  if (!window.L) return;

  function tiles(map, el) {
    const url = el.dataset.tiles;
    if (!url) return;
    L.tileLayer(url, { maxZoom: 18, attribution: el.dataset.attribution || '' }).addTo(map);
  }

  function text(tag, value, cls) {
    const node = document.createElement(tag);
    node.textContent = value;
    if (cls) node.className = cls;
    return node;
  }

  // A popup: the picture, the title as a link to the recording, who recorded it.
  function popup(p) {
    const box = document.createElement('div');
    box.className = 'map-popup';
    const img = document.createElement('img');
    img.src = p.picture;
    img.alt = '';
    img.width = 64;
    img.height = 64;
    box.append(img);
    const link = document.createElement('a');
    link.href = p.url;
    link.textContent = p.title;
    link.dataset.testid = 'map-popup-link';
    box.append(link);
    box.append(text('span', p.place ? `${p.place} · ${p.uploader}` : p.uploader, 'muted'));
    return box;
  }

  const big = document.querySelector('[data-map]');
  if (big) {
    const map = L.map(big, { worldCopyJump: true }).setView([30, 0], 2);
    tiles(map, big);
    const cluster = L.markerClusterGroup ? L.markerClusterGroup() : L.layerGroup();
    fetch(big.dataset.geojson)
      .then((r) => r.json())
      .then((data) => {
        const markers = [];
        for (const f of data.features) {
          const [lon, lat] = f.geometry.coordinates;
          const m = L.marker([lat, lon], { title: f.properties.title });
          m.bindPopup(() => popup(f.properties));
          markers.push(m);
        }
        cluster.addLayers ? cluster.addLayers(markers) : markers.forEach((m) => cluster.addLayer(m));
        map.addLayer(cluster);
        if (markers.length) map.fitBounds(L.latLngBounds(markers.map((m) => m.getLatLng())).pad(0.2), { maxZoom: 10 });
        big.dataset.markers = String(markers.length);
        window.AmbisoniaMap = { map, cluster, markers };
      })
      .catch(() => {
        big.dataset.markers = '0';
      });
  }

  // The describe form's place picker: a click sets the latitude and longitude fields.
  const pick = document.querySelector('[data-pick-map]');
  if (pick) {
    const form = pick.closest('[data-place-picker]');
    const lat = form.querySelector('[data-lat-input]');
    const lon = form.querySelector('[data-lon-input]');
    const map = L.map(pick, { scrollWheelZoom: false });
    tiles(map, pick);
    let marker = null;
    const show = () => {
      const at = [Number(lat.value), Number(lon.value)];
      if (lat.value && lon.value && at.every(Number.isFinite)) {
        if (marker) marker.setLatLng(at);
        else marker = L.marker(at).addTo(map);
        return at;
      }
      return null;
    };
    const at = show();
    if (at) map.setView(at, 9);
    else map.setView([30, 0], 2);
    map.on('click', (e) => {
      lat.value = e.latlng.lat.toFixed(5);
      lon.value = L.Util.wrapNum(e.latlng.lng, [-180, 180], true).toFixed(5);
      show();
    });
    lat.addEventListener('change', show);
    lon.addEventListener('change', show);
  }

  const small = document.querySelector('[data-small-map]');
  if (small) {
    const at = [Number(small.dataset.lat), Number(small.dataset.lon)];
    const map = L.map(small, { scrollWheelZoom: false }).setView(at, 9);
    tiles(map, small);
    L.marker(at).addTo(map);
  }
})();
