// The binaural player: the recording's spatial preview (first-order AmbiX, 4 channels, ACN
// order W Y Z X, SN3D; for a recording of order 2 or 3 its higher-order preview, 9 or 16
// channels in two streams of at most eight kept in step) streamed by <audio> elements,
// turned to where the listener faces, and decoded for headphones with the site's
// head-related filters (/binaural/{rate}-{order}.json, MagLS made by the media crate: from a
// spherical-head model at first order, from a KU100 dummy head at second and third). Web
// Audio only; no WebAssembly.
//
//   <audio> (+ <audio>) → MediaElementSource → split into the ACN channels → rotation (one
//   block of gains per order: the spherical-harmonic rotation; W is unchanged) → one
//   ConvolverNode per channel, each with a two-channel filter (left ear, right ear) →
//   summed → headphones. Where the second stream cannot play, first order from the first.
//
// The page works without this file: the section stays hidden and the stereo preview above
// it is the player. `window.AmbisoniaSpatial.createDecoder` builds the same graph on any
// BaseAudioContext (the browser test renders a plane wave through it offline).
(function () {
  'use strict';

  const W = 0;
  const DEG = Math.PI / 180;

  /** Head orientation (degrees: yaw anticlockwise, pitch nose up, roll right ear down) as the
   *  matrix that takes a direction in the room to the same direction relative to the head,
   *  rows and columns in the order X Y Z. */
  function roomToHead(yaw, pitch, roll) {
    const [cy, sy] = [Math.cos(yaw * DEG), Math.sin(yaw * DEG)];
    const [cp, sp] = [Math.cos(-pitch * DEG), Math.sin(-pitch * DEG)];
    const [cr, sr] = [Math.cos(roll * DEG), Math.sin(roll * DEG)];
    const rz = [[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]];
    const ry = [[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]];
    const rx = [[1, 0, 0], [0, cr, -sr], [0, sr, cr]];
    const mul = (a, b) => a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
    const head = mul(mul(rz, ry), rx);
    return [0, 1, 2].map((i) => [0, 1, 2].map((j) => head[j][i]));
  }

  /** The decoder on `context` with `filters` (the JSON of /binaural/{rate}.json or
   *  /binaural/{rate}-{order}.json): { input ((order+1)² channels, ACN/SN3D), output (2
   *  channels), order, setOrientation(yaw, pitch, roll) }. The field is turned by the
   *  spherical-harmonic rotation of its order (`rotator`, below), one block of gains per
   *  order, then each channel runs through its two-ear filter. */
  function createDecoder(context, filters) {
    if (filters.rate !== context.sampleRate) {
      throw new Error(`filters for ${filters.rate} Hz, context at ${context.sampleRate} Hz`);
    }
    const channels = filters.left.length;
    const order = Math.round(Math.sqrt(channels)) - 1;
    const input = new GainNode(context, { channelCount: channels, channelCountMode: 'explicit', channelInterpretation: 'discrete' });
    const split = new ChannelSplitterNode(context, { numberOfOutputs: channels });
    input.connect(split);
    const output = new GainNode(context, { channelCount: 2, channelCountMode: 'explicit', channelInterpretation: 'speakers' });
    const ears = (c) => {
      const taps = Float32Array.from(filters.left[c]);
      const buffer = new AudioBuffer({ numberOfChannels: 2, length: taps.length, sampleRate: filters.rate });
      buffer.copyToChannel(taps, 0);
      buffer.copyToChannel(taps.map((v) => v * filters.rightEarSigns[c]), 1);
      const convolver = new ConvolverNode(context, { disableNormalization: true });
      convolver.buffer = buffer;
      convolver.connect(output);
      return convolver;
    };
    split.connect(ears(W), W);
    // gains[i][j] takes channel j of the room's field to channel i of the head's, within
    // each order's block (2n+1 channels from n²).
    const gains = [];
    for (let n = 1; n <= order; n++) {
      const [lo, width] = [n * n, 2 * n + 1];
      for (let i = lo; i < lo + width; i++) {
        const sum = new GainNode(context, { channelCount: 1, channelCountMode: 'explicit' });
        sum.connect(ears(i));
        gains[i] = [];
        for (let j = lo; j < lo + width; j++) {
          const g = new GainNode(context, { gain: i === j ? 1 : 0 });
          split.connect(g, j);
          g.connect(sum);
          gains[i][j] = g;
        }
      }
    }
    function setOrientation(yaw, pitch = 0, roll = 0) {
      const m = rotator.matrix(roomToHead(yaw, pitch, roll), order);
      for (let n = 1; n <= order; n++) {
        const [lo, width] = [n * n, 2 * n + 1];
        for (let i = lo; i < lo + width; i++) for (let j = lo; j < lo + width; j++) {
          gains[i][j].gain.setTargetAtTime(m[i][j], context.currentTime, 0.01);
        }
      }
    }
    return { input, output, order, setOrientation };
  }

  // Spherical harmonics to the third order and their rotation: the media crate's `sh`
  // module, number for number (the browser test checks its known answer). Directions are
  // [x front, y left, z up]; channels ACN, SN3D.
  function sn3d([x, y, z]) {
    const s3 = Math.sqrt(3), s15 = Math.sqrt(15), s58 = Math.sqrt(5 / 8), s38 = Math.sqrt(3 / 8);
    return [1, y, z, x, s3 * x * y, s3 * y * z, 0.5 * (3 * z * z - 1), s3 * x * z, 0.5 * s3 * (x * x - y * y),
      s58 * y * (3 * x * x - y * y), s15 * x * y * z, s38 * y * (5 * z * z - 1), 0.5 * z * (5 * z * z - 3),
      s38 * x * (5 * z * z - 1), 0.5 * s15 * z * (x * x - y * y), s58 * x * (x * x - 3 * y * y)];
  }

  /** R = Rz(yaw)·Ry(pitch)·Rx(roll), degrees (the media crate's `sh::rotation`). */
  function rotation(yaw, pitch, roll) {
    const [a, b, c] = [yaw * DEG, pitch * DEG, roll * DEG];
    const [sa, ca, sb, cb, sc, cc] = [Math.sin(a), Math.cos(a), Math.sin(b), Math.cos(b), Math.sin(c), Math.cos(c)];
    return [[ca * cb, ca * sb * sc - sa * cc, ca * sb * cc + sa * sc],
      [sa * cb, sa * sb * sc + ca * cc, sa * sb * cc - ca * sc],
      [-sb, cb * sc, cb * cc]];
  }

  /** The SH rotation of each order, solved at 32 fixed directions (a Fibonacci lattice):
   *  M_n = Y_n(R·D)·Y_n(D)⁺, with Y_n(D)⁺ computed once. `matrix(r, order)` is the
   *  (order+1)² square matrix that turns a field's channels by r. */
  const rotator = (() => {
    const golden = Math.PI * (3 - Math.sqrt(5));
    const points = Array.from({ length: 32 }, (_, k) => {
      const z = 1 - (2 * (k + 0.5)) / 32, r = Math.sqrt(1 - z * z);
      return [r * Math.cos(golden * k), r * Math.sin(golden * k), z];
    });
    const invert = (m) => {
      const n = m.length;
      const a = m.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
      for (let col = 0; col < n; col++) {
        let pivot = col;
        for (let i = col + 1; i < n; i++) if (Math.abs(a[i][col]) > Math.abs(a[pivot][col])) pivot = i;
        [a[col], a[pivot]] = [a[pivot], a[col]];
        const p = a[col][col];
        a[col] = a[col].map((v) => v / p);
        for (let row = 0; row < n; row++) {
          if (row !== col && a[row][col] !== 0) {
            const f = a[row][col];
            a[row] = a[row].map((v, k) => v - f * a[col][k]);
          }
        }
      }
      return a.map((row) => row.slice(n));
    };
    const pinv = [1, 2, 3].map((n) => {
      const rows = points.map((d) => sn3d(d).slice(n * n, (n + 1) * (n + 1)));
      const cols = 2 * n + 1;
      const ata = Array.from({ length: cols }, (_, i) => Array.from({ length: cols }, (_, j) =>
        rows.reduce((s, r) => s + r[i] * r[j], 0)));
      const inv = invert(ata);
      return inv.map((irow) => rows.map((r) => irow.reduce((s, v, k) => s + v * r[k], 0)));
    });
    function matrix(r, order) {
      const size = (order + 1) * (order + 1);
      const m = Array.from({ length: size }, (_, i) => Array.from({ length: size }, (_, j) => (i === 0 && j === 0 ? 1 : 0)));
      const turned = points.map((d) => sn3d([0, 1, 2].map((i) => r[i][0] * d[0] + r[i][1] * d[1] + r[i][2] * d[2])));
      for (let n = 1; n <= order; n++) {
        const [lo, width] = [n * n, 2 * n + 1];
        for (let i = 0; i < width; i++) for (let j = 0; j < width; j++) {
          m[lo + i][lo + j] = turned.reduce((s, y, q) => s + y[lo + i] * pinv[n - 1][j][q], 0);
        }
      }
      return m;
    }
    return { matrix };
  })();

  /** How this browser orders the channels of an eight-channel Ogg Vorbis stream (some
   *  decoders reorder them as speakers): `where[k]` is the stream channel that decoded
   *  channel k carries, learnt from /spatial-probe.ogg, whose channel c is a tone of
   *  750 Hz × (c + 1) (the media crate's `channel_probe`). */
  async function channelOrder(context) {
    const bytes = await (await fetch('/spatial-probe.ogg')).arrayBuffer();
    const probe = await context.decodeAudioData(bytes);
    const rate = probe.sampleRate;
    const level = (data, hz) => {
      // Goertzel over the middle of the probe.
      const from = Math.floor(data.length / 4), to = Math.floor((3 * data.length) / 4);
      const k = 2 * Math.cos((2 * Math.PI * hz) / rate);
      let [s1, s2] = [0, 0];
      for (let i = from; i < to; i++) [s1, s2] = [data[i] + k * s1 - s2, s1];
      return s1 * s1 + s2 * s2 - k * s1 * s2;
    };
    return Array.from({ length: probe.numberOfChannels }, (_, ch) => {
      const data = probe.getChannelData(ch);
      const levels = Array.from({ length: 8 }, (_, c) => level(data, 750 * (c + 1)));
      return levels.indexOf(Math.max(...levels));
    });
  }

  window.AmbisoniaSpatial = { createDecoder, roomToHead, sn3d, rotation, rotator, channelOrder };

  const section = document.querySelector('[data-spatial-player]');
  if (!section) return;
  const audio = section.querySelector('[data-spatial-audio]');
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context || !audio || !audio.canPlayType('audio/ogg; codecs="vorbis"')) return;

  const yawInput = section.querySelector('[data-yaw]');
  const yawLabel = section.querySelector('[data-yaw-label]');
  const status = section.querySelector('[data-spatial-status]');
  const orientationButton = section.querySelector('[data-orientation]');
  const picture = document.querySelector('[data-direction-picture]');
  const stereo = document.querySelector('audio[data-testid="preview"]');
  let facing = { yaw: 0, pitch: 0, roll: 0 };
  let decoder = null;
  let starting = null;
  let line = null; // the facing line on the direction picture, once drawn

  function describe(yaw) {
    const a = Math.round(yaw);
    if (a === 0) return 'front';
    if (Math.abs(a) === 180) return 'behind';
    return `${Math.abs(a)}° ${a > 0 ? 'left' : 'right'}`;
  }

  function face(yaw, pitch = facing.pitch, roll = facing.roll) {
    yaw = ((((yaw + 180) % 360) + 360) % 360) - 180;
    facing = { yaw, pitch, roll };
    yawInput.value = String(Math.round(yaw));
    yawInput.setAttribute('aria-valuetext', describe(yaw));
    yawLabel.textContent = describe(yaw);
    if (decoder) decoder.setOrientation(yaw, pitch, roll);
    if (line) line.style.top = `${(0.5 - yaw / 360) * 100}%`;
  }

  // A higher-order recording: the page's <audio> streams ACN channels 0–7, a second
  // element (made here, never shown) the rest, kept to the first's time, volume and rate.
  const wanted = Number(section.dataset.spatialOrder || 1);
  const restUrl = section.dataset.hoaRest;
  let follower = null;
  function keepInStep() {
    if (!follower) return;
    if (Math.abs(follower.currentTime - audio.currentTime) > 0.02) follower.currentTime = audio.currentTime;
  }

  /** The second stream, once it can play: true, or false when the browser says it cannot
   *  (then the player plays first order from the first stream alone). */
  function startFollower() {
    if (wanted < 2 || !restUrl) return Promise.resolve(false);
    follower = new Audio();
    follower.preload = 'auto';
    follower.src = restUrl;
    return new Promise((ok) => {
      const timer = setTimeout(() => ok(false), 5000);
      follower.addEventListener('canplay', () => { clearTimeout(timer); ok(true); }, { once: true });
      follower.addEventListener('error', () => { clearTimeout(timer); ok(false); }, { once: true });
    });
  }

  /** Eight decoded channels → the ACN channels they carry, or null when the probe does not
   *  give a clean permutation (then higher orders are not trusted). */
  async function probedOrder(context) {
    try {
      const where = await channelOrder(context);
      const clean = where.length === 8 && [...where].sort((x, y) => x - y).every((v, i) => v === i);
      return clean ? where : null;
    } catch (e) {
      return null;
    }
  }

  // The graph is built on the first play (browsers start audio only after a gesture).
  async function start() {
    const context = new Context();
    // Captured at once, so nothing of it plays undecoded while the rest is fetched.
    const source = context.createMediaElementSource(audio);
    const higher = await startFollower();
    const where = wanted >= 2 ? await probedOrder(context) : null;
    const order = higher && where ? wanted : 1;
    const name = order === 1 ? `${context.sampleRate}` : `${context.sampleRate}-${order}`;
    const response = await fetch(`/binaural/${name}.json`);
    if (!response.ok) throw new Error(`no filters for ${context.sampleRate} Hz`);
    const filters = await response.json();
    const built = createDecoder(context, filters);
    // What the page plays, for the browser test to listen to.
    const analyser = new AnalyserNode(context, { fftSize: 2048 });
    built.output.connect(analyser).connect(context.destination);
    if (order >= 2) {
      const channels = (order + 1) * (order + 1);
      const merge = new ChannelMergerNode(context, { numberOfInputs: channels });
      const first = new ChannelSplitterNode(context, { numberOfOutputs: 8 });
      const rest = new ChannelSplitterNode(context, { numberOfOutputs: channels - 8 });
      source.connect(first);
      context.createMediaElementSource(follower).connect(rest);
      // Each decoded channel to the ACN channel it carries.
      for (let k = 0; k < 8; k++) first.connect(merge, k, where[k]);
      if (channels - 8 === 1) rest.connect(merge, 0, 8);
      else for (let k = 0; k < 8; k++) rest.connect(merge, k, 8 + where[k]);
      merge.connect(built.input);
      audio.addEventListener('pause', () => follower.pause());
      audio.addEventListener('waiting', () => follower.pause());
      audio.addEventListener('playing', () => { keepInStep(); follower.play(); });
      audio.addEventListener('seeked', keepInStep);
      audio.addEventListener('ratechange', () => { follower.playbackRate = audio.playbackRate; });
      audio.addEventListener('volumechange', () => { follower.muted = audio.muted; follower.volume = audio.volume; });
      follower.addEventListener('error', () => {
        status.textContent = 'The higher orders stopped streaming; reload the page to hear them again.';
      });
      setInterval(() => { if (!audio.paused) keepInStep(); }, 500);
      [follower.muted, follower.volume, follower.playbackRate] = [audio.muted, audio.volume, audio.playbackRate];
      follower.currentTime = audio.currentTime;
      if (!audio.paused) await follower.play();
    } else if (wanted >= 2) {
      // The first eight channels of a higher-order preview: its first-order four, wherever
      // this browser decodes them.
      const first = new ChannelSplitterNode(context, { numberOfOutputs: 8 });
      const merge = new ChannelMergerNode(context, { numberOfInputs: 4 });
      source.connect(first);
      for (let k = 0; k < 8; k++) {
        const acn = where ? where[k] : k;
        if (acn < 4) first.connect(merge, k, acn);
      }
      merge.connect(built.input);
      if (follower) { follower.removeAttribute('src'); follower.load(); }
      follower = null;
    } else {
      source.connect(built.input);
    }
    window.AmbisoniaSpatial.live = { context, analyser, order, streams: follower ? [audio, follower] : [audio] };
    section.dataset.playingOrder = String(order);
    status.textContent = order === 1
      ? (wanted > 1 ? 'Playing at first order: this browser could not stream the higher orders.' : '')
      : `Playing at order ${order} (${(order + 1) * (order + 1)} channels), through ${filters.head}.`;
    decoder = built;
    face(facing.yaw);
    await context.resume();
    return context;
  }

  audio.addEventListener('play', () => {
    if (stereo && !stereo.paused) stereo.pause();
    if (!starting) {
      starting = start().catch((e) => {
        status.textContent = `The binaural player could not start (${e.message}); the stereo preview above still plays.`;
      });
    } else {
      starting.then((context) => {
        if (context) context.resume();
      });
    }
  });
  if (stereo) stereo.addEventListener('play', () => audio.pause());

  yawInput.addEventListener('input', () => face(Number(yawInput.value)));
  section.querySelector('[data-reset]').addEventListener('click', () => face(0, 0, 0));

  // On the direction picture: the playhead, and a line where the listener faces (its axis
  // is azimuth: behind at the top, left, front across the middle, right, behind again).
  if (picture) {
    picture.classList.add('is-interactive');
    const frame = document.createElement('div');
    frame.className = 'direction-frame';
    const img = picture.querySelector('img');
    img.replaceWith(frame);
    frame.append(img);
    const playhead = document.createElement('div');
    playhead.className = 'playhead';
    line = document.createElement('div');
    line.className = 'facing-line';
    line.setAttribute('aria-hidden', 'true');
    frame.append(playhead, line);
    const tick = () => {
      const d = audio.duration;
      if (d > 0) playhead.style.left = `${(audio.currentTime / d) * 100}%`;
    };
    audio.addEventListener('timeupdate', tick);
    audio.addEventListener('seeked', tick);
    const fromPointer = (e) => {
      const r = frame.getBoundingClientRect();
      face((0.5 - (e.clientY - r.top) / r.height) * 360);
    };
    frame.addEventListener('pointerdown', (e) => {
      frame.setPointerCapture(e.pointerId);
      fromPointer(e);
    });
    frame.addEventListener('pointermove', (e) => {
      if (frame.hasPointerCapture(e.pointerId)) fromPointer(e);
    });
    face(0);
  }

  // A phone's orientation turns the listener, relative to how it was held when asked. The
  // button shows where orientation can be had: on a device that reports it, or where the
  // browser asks permission first (iOS), which no event reveals beforehand.
  if (window.DeviceOrientationEvent) {
    let origin = null;
    let following = false;
    const onTurn = (e) => {
      if (e.alpha === null) return;
      origin = origin || { alpha: e.alpha, beta: e.beta, gamma: e.gamma };
      face(e.alpha - origin.alpha, e.beta - origin.beta, e.gamma - origin.gamma);
    };
    const ask = DeviceOrientationEvent.requestPermission;
    if (typeof ask === 'function') {
      orientationButton.hidden = false;
    } else {
      const probe = (e) => {
        if (e.alpha !== null) orientationButton.hidden = false;
        window.removeEventListener('deviceorientation', probe);
      };
      window.addEventListener('deviceorientation', probe);
    }
    orientationButton.addEventListener('click', async () => {
      if (following) {
        window.removeEventListener('deviceorientation', onTurn);
        following = false;
        orientationButton.textContent = 'Follow my phone';
        return;
      }
      if (typeof ask === 'function' && (await ask.call(DeviceOrientationEvent).catch(() => 'denied')) !== 'granted') {
        status.textContent = 'Without permission to read the phone’s orientation, turn with the slider.';
        return;
      }
      origin = null;
      following = true;
      window.addEventListener('deviceorientation', onTurn);
      orientationButton.textContent = 'Stop following my phone';
    });
  }

  section.hidden = false;
})();
