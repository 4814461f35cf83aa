// The Webcam tab's in-browser mode: the camera's frames are painted on the visitor's device by
// onnxruntime-web (WebGPU where the browser has a GPU adapter, else WebAssembly), so no frame
// goes to the server and any number of visitors can use it at once. The page gets the style's
// ONNX file and the runtime's files from the app itself (ui/webcam_tab.py, ui/browser_runtime.py).
//
// Each frame does what the server's path does (styletransfer/networks/network.py, stylize):
// the camera picture centre-cropped to the size, float32 RGB in [0, 1], the network, then
// strength (a blend with the photo) and keep-colours (the painting's luminance under the
// photo's chroma, in YIQ as styletransfer/colors.py), rounded to bytes.
(() => {
  if (window.stBrowserWebcam) return;

  const RGB_TO_YIQ = [
    [0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135],
  ];
  const YIQ_TO_RGB = invert3(RGB_TO_YIQ); // the exact inverse, as colors.py takes it

  const state = {
    runtime: null, // {ort, backend, label}
    session: null,
    modelUrl: null,
    styleLabel: '',
    width: 320,
    height: 240,
    strength: 1,
    keepColors: false,
    steady: true,
    still: null, // the steadying blend's memory: {luma, painted} of the last frame (Float32Arrays)
    running: false,
    stream: null,
    times: [], // when the last second's frames were painted
    last: null, // {input, output, width, height} of the last frame painted, for snapshot()
  };

  function invert3(m) {
    const [[a, b, c], [d, e, f], [g, h, i]] = m;
    const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
    const det = a * A + b * B + c * C;
    return [
      [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
      [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
      [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
    ];
  }

  const el = (id) => document.getElementById(id);

  function say(text, isError = false) {
    const info = el('browser-webcam-info');
    if (info) {
      info.textContent = text;
      info.classList.toggle('st-error', isError);
    }
  }

  // The browser cannot do it (no WebAssembly, no camera it may read, no runtime on the server):
  // say why and hand over to the server's path, which works with any browser that sends frames.
  function fallBack(reason) {
    stop();
    const text = `This browser cannot paint the camera itself (${reason}). Switched to the server: ` +
        'click the camera box, then its record button.';
    say(text, true);
    const notice = el('webcam-notice');
    if (notice) notice.textContent = text; // the browser's view is hidden once the server's shows
    const server = document.querySelector('#webcam-where input[value="server"]');
    if (server && !server.checked) server.click();
  }

  async function loadRuntime(base, wasmOnly = false) {
    if (state.runtime) return state.runtime;
    let adapter = null;
    try {
      adapter = navigator.gpu && !wasmOnly ? await navigator.gpu.requestAdapter({powerPreference: 'high-performance'}) : null;
      // A software adapter (SwiftShader) compiles shaders on the CPU: measured 100 s for the first frame.
      if (adapter && (adapter.isFallbackAdapter || (adapter.info && adapter.info.isFallbackAdapter) ||
                      (adapter.info && adapter.info.architecture === 'swiftshader'))) adapter = null;
    } catch (error) {
      adapter = null;
    }
    const bundle = adapter ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
    const ort = await import(base + bundle);
    ort.env.wasm.wasmPaths = base;
    // Threads need a cross-origin-isolated page (webcam_tab.CrossOriginIsolation's headers). One
    // core is left to the page itself (camera, drawing): on 2 cores, 2 threads measured no faster
    // a frame than 1 (145 against 109 ms at 320x240), though the network alone ran 81 against 115 ms.
    const cores = navigator.hardwareConcurrency || 1;
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, Math.max(1, cores - 1)) : 1;
    const threads = ort.env.wasm.numThreads;
    state.runtime = adapter
      ? {ort, backend: 'webgpu', label: 'WebGPU'}
      : {ort, backend: 'wasm', label: `WebAssembly (${threads} thread${threads > 1 ? 's' : ''})`};
    return state.runtime;
  }

  async function loadModel(url) {
    if (state.session && state.modelUrl === url) return;
    const {ort, backend} = state.runtime;
    state.session = await ort.InferenceSession.create(url, {executionProviders: [backend]});
    state.modelUrl = url;
  }

  async function openCamera() {
    if (state.stream && state.stream.getVideoTracks().some((t) => t.readyState === 'live')) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error('the page may not use a camera here (it needs https or localhost)');
    }
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false,
    });
    const video = el('browser-webcam-video');
    video.srcObject = state.stream;
    await video.play();
  }

  function grab(width, height) {
    const video = el('browser-webcam-video');
    const canvas = el('browser-webcam-grab');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    // Cover the size, centre-cropped, as the server path decodes a frame (io/frames.py).
    const scale = Math.max(width / video.videoWidth, height / video.videoHeight);
    const sw = width / scale, sh = height / scale;
    ctx.drawImage(video, (video.videoWidth - sw) / 2, (video.videoHeight - sh) / 2, sw, sh, 0, 0, width, height);
    return ctx.getImageData(0, 0, width, height).data;
  }

  function toTensor(rgba, width, height) {
    const n = width * height;
    const data = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      data[i] = rgba[4 * i] / 255;
      data[n + i] = rgba[4 * i + 1] / 255;
      data[2 * n + i] = rgba[4 * i + 2] / 255;
    }
    return new state.runtime.ort.Tensor('float32', data, [1, 3, height, width]);
  }

  function toPixels(styled, rgba, width, height) {
    const n = width * height;
    const out = new Uint8ClampedArray(4 * n);
    const s = state.strength, keep = state.keepColors;
    const [y0, y1, y2] = RGB_TO_YIQ[0], [i0, i1, i2] = RGB_TO_YIQ[1], [q0, q1, q2] = RGB_TO_YIQ[2];
    const M = YIQ_TO_RGB;
    for (let p = 0; p < n; p++) {
      const pr = rgba[4 * p] / 255, pg = rgba[4 * p + 1] / 255, pb = rgba[4 * p + 2] / 255;
      let r = styled[p], g = styled[n + p], b = styled[2 * n + p];
      if (keep) {
        const y = y0 * r + y1 * g + y2 * b;
        const i = i0 * pr + i1 * pg + i2 * pb, q = q0 * pr + q1 * pg + q2 * pb;
        r = Math.min(1, Math.max(0, M[0][0] * y + M[0][1] * i + M[0][2] * q));
        g = Math.min(1, Math.max(0, M[1][0] * y + M[1][1] * i + M[1][2] * q));
        b = Math.min(1, Math.max(0, M[2][0] * y + M[2][1] * i + M[2][2] * q));
      }
      if (s < 1) {
        r = pr + s * (r - pr);
        g = pg + s * (g - pg);
        b = pb + s * (b - pb);
      }
      out[4 * p] = Math.round(r * 255); // Uint8ClampedArray saturates to 0..255
      out[4 * p + 1] = Math.round(g * 255);
      out[4 * p + 2] = Math.round(b * 255);
      out[4 * p + 3] = 255;
    }
    return out;
  }

  // Steadiness without optical flow (flow is too dear here): where the camera picture did not
  // change, keep most of the last painting, so still parts stop shimmering. The weight falls
  // from STILL_WEIGHT to 0 as the local change of luminance (a 5x5 mean of |difference|, 0..255)
  // rises to STILL_CHANGE. Measured (bench/temporal.py, stable lite, 40 frames at 320 px):
  // E_warp 0.59x per-frame on a still camera (fox.mp4) and 0.89x on a panning one, contrast
  // -1%; the server's flow-guided blend reaches 0.23x and 0.52x. The same as bench/temporal.py's
  // still_blended, which tests/test_app_webcam_browser.py checks this against.
  const STILL_CHANGE = 32, STILL_WEIGHT = 0.8, STILL_RADIUS = 2;

  function luminance(rgba, n) {
    const [y0, y1, y2] = RGB_TO_YIQ[0];
    const luma = new Float32Array(n);
    for (let p = 0; p < n; p++) luma[p] = y0 * rgba[4 * p] + y1 * rgba[4 * p + 1] + y2 * rgba[4 * p + 2];
    return luma;
  }

  // A (2r+1)^2 mean with mirrored edges (OpenCV's default border, reflect-101): a running sum
  // along each row, then down each column, so the cost does not grow with r.
  function boxMean(values, width, height, r) {
    const mirror = (i, n) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
    const size = 2 * r + 1;
    const rows = new Float32Array(values.length), out = new Float32Array(values.length);
    for (let y = 0; y < height; y++) {
      const row = y * width;
      let sum = 0;
      for (let k = -r; k <= r; k++) sum += values[row + mirror(k, width)];
      for (let x = 0; x < width; x++) {
        rows[row + x] = sum / size;
        sum += values[row + mirror(x + r + 1, width)] - values[row + mirror(x - r, width)];
      }
    }
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -r; k <= r; k++) sum += rows[mirror(k, height) * width + x];
      for (let y = 0; y < height; y++) {
        out[y * width + x] = sum / size;
        sum += rows[mirror(y + r + 1, height) * width + x] - rows[mirror(y - r, height) * width + x];
      }
    }
    return out;
  }

  // memory: {luma, painted} of the previous frame or null -> [RGBA bytes to show, the new memory].
  function stillBlend(memory, rgba, pixels, width, height) {
    const n = width * height;
    const luma = luminance(rgba, n);
    const painted = new Float32Array(3 * n);
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) painted[3 * p + c] = pixels[4 * p + c];
    if (memory && memory.luma.length === n) {
      const change = new Float32Array(n);
      for (let p = 0; p < n; p++) change[p] = Math.abs(luma[p] - memory.luma[p]);
      const local = boxMean(change, width, height, STILL_RADIUS);
      for (let p = 0; p < n; p++) {
        const w = Math.min(1, Math.max(0, 1 - local[p] / STILL_CHANGE)) * STILL_WEIGHT;
        for (let c = 0; c < 3; c++) {
          const i = 3 * p + c;
          painted[i] = w * memory.painted[i] + (1 - w) * painted[i];
          pixels[4 * p + c] = Math.round(painted[i]);
        }
      }
    }
    return [pixels, {luma, painted}];
  }

  async function paintOne() {
    const {width, height} = state;
    const started = performance.now();
    const rgba = grab(width, height);
    const result = await state.session.run({image: toTensor(rgba, width, height)});
    let pixels = toPixels(result.stylized.data, rgba, width, height);
    if (state.steady) [pixels, state.still] = stillBlend(state.still, rgba, pixels, width, height);
    else state.still = null; // switched off and on again: start afresh
    const canvas = el('browser-webcam-output');
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    canvas.getContext('2d').putImageData(new ImageData(pixels, width, height), 0, 0);
    state.last = {input: rgba, output: pixels, width, height};
    const now = performance.now();
    state.times.push(now);
    while (now - state.times[0] > 1000) state.times.shift();
    const span = (state.times[state.times.length - 1] - state.times[0]) / 1000;
    const fps = state.times.length > 1 && span > 0 ? (state.times.length - 1) / span : 0;
    say(`${fps.toFixed(1)} fps · ${width}×${height} · ${state.styleLabel} · ` +
        `${state.runtime.label} in this browser · ${Math.round(now - started)} ms a frame`);
    canvas.dataset.frames = String(Number(canvas.dataset.frames || 0) + 1);
  }

  async function loop() {
    while (state.running) {
      if (!state.stream.getVideoTracks().some((t) => t.readyState === 'live')) {
        stop();
        say('Camera stopped: press Start to paint it again.', true);
        return;
      }
      if (!el('browser-webcam-output').offsetParent) { // another tab, or the server's mode: camera off
        stop();
        say('Stopped when the painting went out of view: press Start to paint again.');
        return;
      }
      try {
        await paintOne();
      } catch (error) {
        stop();
        say(`Painting stopped: ${error.message || error}`, true);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 0)); // let the page breathe between frames
    }
  }

  function setSize(resolution) {
    const [w, h] = String(resolution || '320x240').split('x').map(Number);
    if (w > 0 && h > 0) {
      if (w !== state.width || h !== state.height) state.still = null;
      state.width = w;
      state.height = h;
      state.times = [];
    }
  }

  // config: what the server prepared ({model, runtime, label} or {error}); the rest: the tab's controls.
  async function start(config, resolution, strength, keepColors, steady) {
    set(resolution, strength, keepColors, steady);
    if (!config || config.error) return fallBack(config ? config.error : 'nothing prepared');
    if (typeof WebAssembly !== 'object') return fallBack('it has no WebAssembly');
    say('Loading the network…');
    const runtimeUrl = new URL(config.runtime, document.baseURI).href;
    const modelUrl = new URL(config.model, document.baseURI).href;
    try {
      await loadRuntime(runtimeUrl);
      try {
        await loadModel(modelUrl);
      } catch (error) {
        if (state.runtime.backend === 'wasm') throw error;
        state.runtime = null; // a GPU that cannot run this network: WebAssembly always can
        state.session = null;
        await loadRuntime(runtimeUrl, true);
        await loadModel(modelUrl);
      }
    } catch (error) {
      return fallBack(`the network would not load: ${error.message || error}`);
    }
    if (config.label !== state.styleLabel) state.still = null; // another painting: nothing of the last one
    state.styleLabel = config.label;
    try {
      await openCamera();
    } catch (error) {
      return fallBack(`no camera it may read: ${error.message || error.name || error}`);
    }
    el('browser-webcam').classList.add('st-started'); // shows the canvas (PAGE_CSS), which loop() needs in view
    if (!state.running) {
      state.running = true;
      state.times = [];
      loop();
    }
  }

  // A new style while painting: swap the network, keep the camera.
  async function restyle(config, resolution, strength, keepColors, steady) {
    if (state.running) return start(config, resolution, strength, keepColors, steady);
  }

  function set(resolution, strength, keepColors, steady = true) {
    setSize(resolution);
    state.steady = Boolean(steady);
    state.strength = Math.min(1, Math.max(0, Number(strength)));
    if (!Number.isFinite(state.strength)) state.strength = 1;
    state.keepColors = Boolean(keepColors);
  }

  function stop() {
    state.running = false;
    state.still = null;
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
  }

  // For tests: the last frame's camera picture and painting, as base64 RGBA bytes.
  function snapshot() {
    if (!state.last) return null;
    const b64 = (bytes) => {
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(text);
    };
    const {input, output, width, height} = state.last;
    return {width, height, input: b64(input), output: b64(output), backend: state.runtime.backend};
  }

  // For benchmarks: the network alone on the last frame, n times -> ms per run.
  async function timeNetwork(n = 10) {
    const {width, height, input} = state.last;
    const tensor = toTensor(input, width, height);
    const started = performance.now();
    for (let k = 0; k < n; k++) await state.session.run({image: tensor});
    return (performance.now() - started) / n;
  }

  // For tests: the steadying blend over frames given as arrays of RGBA bytes (camera, painting).
  function stillBlendFrames(cameras, paintings, width, height) {
    let memory = null;
    return cameras.map((camera, k) => {
      const [pixels, next] = stillBlend(memory, Uint8ClampedArray.from(camera), Uint8ClampedArray.from(paintings[k]),
                                        width, height);
      memory = next;
      return Array.from(pixels);
    });
  }

  window.stBrowserWebcam = {timeNetwork, stillBlendFrames, start, restyle, set, stop: () => { stop(); say('Stopped.'); }, snapshot,
                            running: () => state.running};
})();
