// SSAR face check (R20, R21): prompts the challenged head poses, probes camera frames until each
// pose is seen, then submits one kept frame per pose. Frames live in memory only, never in storage.
//
// Binds to [data-face-check] (templates/recovery/face.html). Server contract (JSON, X-CSRF-Token):
//   POST probe_url   multipart "frame" (JPEG 640x480)
//     -> {"pose": "left"|"right"|"straight"|null, "error": null|"no_face"|..., "message": str|null}
//   POST submit_url  multipart "token", "frames" (repeated, in pose order)
//     -> {"redirect": url}
//      | {"retry": {"message": str, "attempts_left": int,
//                   "challenge": {"poses": [...], "token": str, "deadline": ISO 8601}}}
(function () {
  "use strict";

  var WIDTH = 640;
  var HEIGHT = 480;
  var PROBE_INTERVAL_MS = 350;
  // probing stops this long before the deadline, so the burst reaches the server inside it
  var SUBMIT_MARGIN_MS = 1500;
  var FALLBACK_LIFETIME_MS = 60000;

  var PROMPTS = {
    straight: "Look straight at the camera",
    left: "Turn your head to your left",
    right: "Turn your head to your right"
  };

  var HINTS = {
    no_face: "We can't see your face clearly. Face the camera in good light.",
    many_faces: "Make sure only your face is in the picture.",
    too_small: "Move a little closer to the camera.",
    low_quality: "The picture is blurred or badly lit. Hold still in good light.",
    unreadable_image: "We can't see your face clearly."
  };

  var GENERIC_ERROR = "Something went wrong. Please try again.";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function sleep(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, Math.max(0, ms)); });
  }

  function parseDeadline(value) {
    // "2026-11-23 09:01:00+00:00" (str of a datetime) is read like the ISO form
    var time = Date.parse(String(value || "").trim().replace(" ", "T"));
    return isNaN(time) ? Date.now() + FALLBACK_LIFETIME_MS : time;
  }

  function cameraMessage(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "Camera access was refused. Allow this site to use your camera in your browser's " +
        "settings, then press Start again.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "TypeError") {
      return "No camera was found. Connect a camera, or continue on a device that has one.";
    }
    if (name === "NotReadableError" || name === "AbortError") {
      return "Your camera is busy or could not be started. Close other apps that use it, then " +
        "press Start again.";
    }
    return "Your camera could not be started. Please try again.";
  }

  function FaceCheck(root) {
    this.root = root;
    this.probeUrl = root.getAttribute("data-probe-url");
    this.submitUrl = root.getAttribute("data-submit-url");
    this.challenge = {
      poses: (root.getAttribute("data-poses") || "").split(/\s+/).filter(Boolean),
      token: root.getAttribute("data-token") || "",
      deadline: root.getAttribute("data-deadline") || ""
    };
    this.attemptsLeft = parseInt(root.getAttribute("data-attempts-left") || "0", 10);
    this.button = root.querySelector("[data-face-start]");
    this.steps = root.querySelector("[data-face-steps]");
    this.message = root.querySelector("[data-face-message]");
    this.attempts = root.querySelector("[data-face-attempts]");
    this.preview = root.querySelector("[data-face-preview]");
    this.video = root.querySelector("[data-face-video]");
    this.progress = root.querySelector("[data-face-progress]");
    this.prompt = root.querySelector("[data-face-prompt]");
    this.hint = root.querySelector("[data-face-hint]");
    this.canvas = document.createElement("canvas");
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.stream = null;
    this.clockSkew = 0; // server time minus this device's time, from the Date header
    this.running = false;
    this.leaving = false;
  }

  FaceCheck.prototype.setText = function (element, text) {
    // only real changes, so the live region announces each prompt once
    if (element && element.textContent !== text) element.textContent = text;
  };

  FaceCheck.prototype.showMessage = function (text) {
    this.setText(this.message, text || "");
    this.message.hidden = !text;
  };

  FaceCheck.prototype.renderSteps = function (current) {
    var self = this;
    var items = this.steps.querySelectorAll("li");
    var poses = this.challenge.poses;
    if (items.length !== poses.length ||
        Array.prototype.some.call(items, function (li, i) { return li.getAttribute("data-pose") !== poses[i]; })) {
      this.steps.textContent = "";
      poses.forEach(function (pose) {
        var li = document.createElement("li");
        li.className = "face-step";
        li.setAttribute("data-pose", pose);
        li.textContent = PROMPTS[pose] || pose;
        self.steps.appendChild(li);
      });
      items = this.steps.querySelectorAll("li");
    }
    Array.prototype.forEach.call(items, function (li, i) {
      li.classList.toggle("face-step-done", current !== null && i < current);
      if (i === current) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
  };

  FaceCheck.prototype.renderAttempts = function () {
    this.setText(this.attempts, this.attemptsLeft === 1
      ? "This is your last attempt."
      : "You have " + this.attemptsLeft + " attempts left.");
  };

  FaceCheck.prototype.busy = function (on) {
    this.button.disabled = on;
    this.button.setAttribute("aria-busy", on ? "true" : "false");
  };

  FaceCheck.prototype.serverNow = function () {
    return Date.now() + this.clockSkew;
  };

  FaceCheck.prototype.learnClock = function (response) {
    var date = Date.parse(response.headers.get("Date") || "");
    // the Date header has 1 s resolution: only a clearly wrong device clock is corrected
    if (!isNaN(date) && Math.abs(date - Date.now()) > 3000) this.clockSkew = date - Date.now();
  };

  FaceCheck.prototype.startCamera = async function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      var unsupported = new Error("no camera API");
      unsupported.name = "NotFoundError";
      throw unsupported;
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: WIDTH, height: HEIGHT, facingMode: "user" },
      audio: false
    });
    this.video.srcObject = this.stream;
    this.preview.hidden = false;
    var video = this.video;
    if (video.readyState < 2) {
      await new Promise(function (resolve) {
        video.addEventListener("loadeddata", resolve, { once: true });
      });
    }
    await video.play();
  };

  FaceCheck.prototype.stopCamera = function () {
    if (this.stream) {
      this.stream.getTracks().forEach(function (track) { track.stop(); });
      this.stream = null;
    }
    this.video.srcObject = null;
    this.preview.hidden = true;
  };

  FaceCheck.prototype.grabFrame = function () {
    var video = this.video;
    var context = this.canvas.getContext("2d");
    var vw = video.videoWidth || WIDTH;
    var vh = video.videoHeight || HEIGHT;
    // cover 640x480 without stretching: a stretched face would read as turned
    var scale = Math.max(WIDTH / vw, HEIGHT / vh);
    var sw = WIDTH / scale;
    var sh = HEIGHT / scale;
    context.drawImage(video, (vw - sw) / 2, (vh - sh) / 2, sw, sh, 0, 0, WIDTH, HEIGHT);
    var canvas = this.canvas;
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) {
        if (blob) resolve(blob);
        else reject(new Error("the camera frame could not be encoded"));
      }, "image/jpeg", 0.9);
    });
  };

  FaceCheck.prototype.post = async function (url, form) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      body: form
    });
    this.learnClock(response);
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (data && typeof data.redirect === "string") return data;
    if (!response.ok && !(data && data.retry)) {
      throw new Error((data && (data.detail || data.title)) || GENERIC_ERROR);
    }
    return data || {};
  };

  FaceCheck.prototype.probe = function (blob) {
    var form = new FormData();
    form.append("frame", blob, "frame.jpg");
    return this.post(this.probeUrl, form);
  };

  FaceCheck.prototype.submit = function (kept) {
    var form = new FormData();
    form.append("token", this.challenge.token);
    kept.forEach(function (blob, i) { form.append("frames", blob, "frame-" + (i + 1) + ".jpg"); });
    return this.post(this.submitUrl, form);
  };

  // {kept: one frame per pose, in order (fewer when the deadline comes first)}, or {redirect}
  FaceCheck.prototype.capture = async function () {
    var poses = this.challenge.poses;
    var stopAt = parseDeadline(this.challenge.deadline) - SUBMIT_MARGIN_MS;
    var kept = [];
    for (var i = 0; i < poses.length; i++) {
      this.renderSteps(i);
      this.setText(this.progress, "Step " + (i + 1) + " of " + poses.length);
      this.setText(this.prompt, PROMPTS[poses[i]] || poses[i]);
      this.setText(this.hint, "");
      while (true) {
        if (this.serverNow() >= stopAt) return { kept: kept };
        var started = Date.now();
        var blob = await this.grabFrame();
        var answer = await this.probe(blob);
        if (answer.redirect) return { redirect: answer.redirect };
        if (!answer.error && answer.pose === poses[i]) {
          kept.push(blob);
          break;
        }
        // our own words for the known reasons: the server's message may be technical
        this.setText(this.hint, answer.error
          ? (HINTS[answer.error] || answer.message || HINTS.unreadable_image)
          : "");
        await sleep(PROBE_INTERVAL_MS - (Date.now() - started));
      }
    }
    this.renderSteps(poses.length);
    return { kept: kept };
  };

  FaceCheck.prototype.finish = function (result) {
    if (result && typeof result.redirect === "string") {
      this.leaving = true;
      this.setText(this.prompt, "Done.");
      window.location.assign(result.redirect);
      return;
    }
    var retry = result && result.retry;
    if (!retry || !retry.challenge) throw new Error(GENERIC_ERROR);
    this.challenge = {
      poses: (retry.challenge.poses || []).slice(),
      token: retry.challenge.token || "",
      deadline: retry.challenge.deadline || ""
    };
    if (typeof retry.attempts_left === "number") this.attemptsLeft = retry.attempts_left;
    this.renderSteps(null);
    this.renderAttempts();
    this.showMessage(retry.message || "That didn't work. Please try again.");
    this.setText(this.progress, "");
    this.setText(this.prompt, "");
    this.setText(this.hint, "");
    this.button.textContent = "Try the face check again";
  };

  FaceCheck.prototype.run = async function () {
    if (this.running) return;
    this.running = true;
    this.busy(true);
    this.showMessage("");
    this.setText(this.hint, "");
    this.setText(this.prompt, "Starting your camera…");
    try {
      try {
        await this.startCamera();
      } catch (error) {
        this.stopCamera();
        this.setText(this.prompt, "");
        this.showMessage(cameraMessage(error));
        return;
      }
      var captured = await this.capture();
      this.stopCamera();
      if (captured.redirect) {
        this.finish(captured);
        return;
      }
      this.setText(this.progress, "");
      this.setText(this.hint, "");
      this.setText(this.prompt, "Checking…");
      this.finish(await this.submit(captured.kept));
    } catch (error) {
      this.stopCamera();
      this.setText(this.prompt, "");
      this.showMessage((error && error.message) || GENERIC_ERROR);
    } finally {
      this.running = false;
      if (!this.leaving) {
        this.busy(false);
        if (this.attemptsLeft <= 0) this.button.disabled = true;
        else this.button.focus(); // keyboard users can press Enter to try again
      }
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-face-check]").forEach(function (root) {
      var check = new FaceCheck(root);
      check.renderSteps(null);
      check.button.addEventListener("click", function () { check.run(); });
      window.addEventListener("pagehide", function () { check.stopCamera(); });
    });
  });
})();
