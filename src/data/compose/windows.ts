// Where the clips of a long video go: windows of N frames inside label ranges (an action-recognition
// dataset's temporal annotations) or over the whole video, never across a scene cut.
//
//   spans    the label ranges (clipped to the video) or, without annotations, the whole video; each split
//            at every scene cut strictly inside it (a cut at frame c: frames c - 1 and c are in
//            different shots)
//   windows  per span of length n, k = floor((n - N) / stride) + 1 windows of N frames, `stride` apart,
//            centred in the span (the slack n - N - (k - 1) stride split evenly, the odd frame at the end),
//            so the frames nearest a fuzzy annotation edge are the ones left out
//   dropped  a span shorter than N, with the reason
//
// A window lies inside one span, so it never holds two labels or two shots.

export interface LabelRange {
  /** Frames [start, end) of the video. */
  start: number;
  end: number;
  label?: string;
  caption?: string;
}

export interface WindowPlanOptions {
  /** N: frames per clip, an integer >= 1. */
  clipFrames: number;
  /** Frames between window starts, an integer >= 1; N gives back-to-back clips. */
  stride: number;
}

export interface PlannedWindow {
  start: number;
  end: number;
  label?: string;
  caption?: string;
  /** The label range (or the whole video) the window was cut from. */
  range: [number, number];
}

export interface DroppedSpan {
  start: number;
  end: number;
  label?: string;
  reason: string;
}

export interface WindowPlan {
  windows: PlannedWindow[];
  dropped: DroppedSpan[];
}

/** Windows of a video of `frameCount` frames; `ranges` null means the whole video. */
export function planWindows(frameCount: number, ranges: readonly LabelRange[] | null, cuts: readonly number[], options: WindowPlanOptions): WindowPlan {
  const { clipFrames: N, stride } = options;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`planWindows: clipFrames is ${N}; allowed: an integer >= 1`);
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`planWindows: stride is ${stride}; allowed: an integer >= 1`);
  const windows: PlannedWindow[] = [];
  const dropped: DroppedSpan[] = [];
  const sortedCuts = [...cuts].sort((a, b) => a - b);
  for (const range of ranges ?? [{ start: 0, end: frameCount }]) {
    const tags = { ...(range.label === undefined ? {} : { label: range.label }), ...(range.caption === undefined ? {} : { caption: range.caption }) };
    const start = Math.max(0, range.start);
    const end = Math.min(frameCount, range.end);
    if (end - start < N) {
      const why = range.start >= frameCount ? `starts at frame ${range.start}, past the video's ${frameCount} frames` : `has ${Math.max(0, end - start)} frames${end < range.end ? ` (the video ends at ${frameCount})` : ""}, fewer than the ${N} a clip needs`;
      dropped.push({ start: range.start, end: range.end, ...tags, reason: `range ${range.start}-${range.end} ${why}` });
      continue;
    }
    const bounds = [start, ...sortedCuts.filter((c) => c > start && c < end), end];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const [s, e] = [bounds[k], bounds[k + 1]];
      const n = e - s;
      if (n < N) {
        dropped.push({ start: s, end: e, ...tags, reason: `frames ${s}-${e} between ${k === 0 ? "the range start" : "a scene cut"} and ${k + 2 === bounds.length ? "the range end" : "a scene cut"} are ${n}, fewer than the ${N} a clip needs` });
        continue;
      }
      const count = Math.floor((n - N) / stride) + 1;
      const offset = s + Math.floor((n - N - (count - 1) * stride) / 2);
      for (let w = 0; w < count; w++) windows.push({ start: offset + w * stride, end: offset + w * stride + N, ...tags, range: [range.start, range.end] });
    }
  }
  return { windows, dropped };
}

/**
 * A range in source frames [start, end) at `sourceFps` as frames of the same video resampled to
 * `targetFps` (ffmpeg's fps filter: output frame k shows the source frame at time k / targetFps).
 * Source frame i is shown over [i, i + 1) / sourceFps, so output frame k is inside the range when
 * start / sourceFps <= k / targetFps < end / sourceFps. The fps filter rounds timestamps to the nearest
 * output slot, which can move a frame by one across the edge; one output frame is given up at each end
 * (but at the video's start) so the range keeps only frames that are its own either way. Equal rates map
 * exactly.
 */
export function resampleRange(start: number, end: number, sourceFps: number, targetFps: number): [number, number] {
  if (Math.abs(sourceFps - targetFps) < 1e-9) return [start, end];
  const r = targetFps / sourceFps;
  const first = start <= 0 ? 0 : Math.ceil(start * r - 1e-9) + 1; // nothing lies before frame 0
  const last = Math.ceil(end * r - 1e-9) - 1; // exclusive
  return [first, Math.max(first, last)];
}
