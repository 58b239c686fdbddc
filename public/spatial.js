// The binaural player: the recording's spatial preview (first-order AmbiX, 4 channels, ACN
// order W Y Z X, SN3D) streamed by an <audio> element, turned to where the listener faces,
// and decoded for headphones with the site's head-related filters (/binaural/{rate}.json,
// made by the media crate from a spherical-head model). Web Audio only; no WebAssembly.
//
//   <audio> → MediaElementSource → split into W Y Z X → rotation (a 3×3 matrix of gains on
//   X Y Z; W is unchanged) → one ConvolverNode per channel, each with a two-channel filter
//   (left ear, right ear) → summed → headphones
//
// The page works without this file: the section stays hidden and the stereo preview above
// it is the player. `window.AmbisoniaSpatial.createDecoder` builds the same graph on any
// BaseAudioContext (the browser test renders a plane wave through it offline).
(function () {
  'use strict';

  const W = 0, Y = 1, Z = 2, X = 3;
  const AXES = [X, Y, Z];
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

  /** The decoder on `context` with `filters` (the JSON of /binaural/{rate}.json):
   *  { input (4 channels), output (2 channels), setOrientation(yaw, pitch, roll) }. */
  function createDecoder(context, filters) {
    if (filters.rate !== context.sampleRate) {
      throw new Error(`filters for ${filters.rate} Hz, context at ${context.sampleRate} Hz`);
    }
    const input = new GainNode(context, { channelCount: 4, channelCountMode: 'explicit', channelInterpretation: 'discrete' });
    const split = new ChannelSplitterNode(context, { numberOfOutputs: 4 });
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
    // Each rotated axis sums its three gains; gains[i][j] takes room axis j to head axis i.
    const gains = AXES.map((to) => {
      const sum = new GainNode(context, { channelCount: 1, channelCountMode: 'explicit' });
      sum.connect(ears(to));
      return AXES.map((from) => {
        const g = new GainNode(context, { gain: from === to ? 1 : 0 });
        split.connect(g, from);
        g.connect(sum);
        return g;
      });
    });
    function setOrientation(yaw, pitch = 0, roll = 0) {
      const m = roomToHead(yaw, pitch, roll);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
        gains[i][j].gain.setTargetAtTime(m[i][j], context.currentTime, 0.01);
      }
    }
    return { input, output, setOrientation };
  }

  window.AmbisoniaSpatial = { createDecoder, roomToHead };

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

  // The graph is built on the first play (browsers start audio only after a gesture).
  async function start() {
    const context = new Context();
    const response = await fetch(`/binaural/${context.sampleRate}.json`);
    if (!response.ok) throw new Error(`no filters for ${context.sampleRate} Hz`);
    const built = createDecoder(context, await response.json());
    const source = context.createMediaElementSource(audio);
    source.connect(built.input);
    built.output.connect(context.destination);
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
      starting.then((context) => context && context.resume());
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
