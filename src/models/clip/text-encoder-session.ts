// A compiled CLIP text encoder: the graph of text-encoder.ts with its weights baked in, run on token ids.
// Ids are checked on the host first, so an out-of-vocabulary id fails with its position, not deep in Gather.

import type { WeightSource } from "../../graph/index.js";
import { Session, type SessionOptions } from "../../runtime/index.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { ClipTextConfig } from "./config.js";
import { CLIP_INPUT_IDS, type ClipTextGraphOptions, clipTextEncoderGraph } from "./text-encoder.js";

export interface ClipTextEncoderOptions extends ClipTextGraphOptions, SessionOptions {}

export class ClipTextEncoder {
  private constructor(
    private readonly session: Session,
    readonly config: ClipTextConfig,
    readonly sequenceLength: number,
    /** Output names, in the order the options gave them. */
    readonly outputNames: readonly string[],
  ) {}

  /**
   * Builds and compiles the encoder. `weights` holds the HF keys (`text_model.…`); extra keys such as
   * `text_model.embeddings.position_ids` are ignored, missing or misshapen ones are all reported at once.
   */
  static async create(config: ClipTextConfig, weights: WeightSource, opts: ClipTextEncoderOptions = {}): Promise<ClipTextEncoder> {
    const graph = clipTextEncoderGraph(config, opts);
    const session = await Session.fromGraph(graph, { ...opts, weights });
    return new ClipTextEncoder(session, config, graph.inputs[0]!.shape[1] as number, graph.outputs.map((o) => o.name));
  }

  /** ids int64 [B, L] -> each output float32 [B, L, C]. */
  async encode(ids: Tensor): Promise<Record<string, Tensor>> {
    this.checkIds(ids);
    return this.session.run({ [CLIP_INPUT_IDS]: ids });
  }

  private checkIds(ids: Tensor): void {
    const want = `int64[B, ${this.sequenceLength}]`;
    if (ids.dtype !== "int64" || ids.rank !== 2 || ids.shape[1] !== this.sequenceLength) {
      throw new RangeError(`${CLIP_INPUT_IDS}: expected ${want}, got ${ids.describe()}`);
    }
    const data = ids.data as BigInt64Array;
    const vocab = BigInt(this.config.vocabSize);
    for (let i = 0; i < data.length; i++) {
      if (data[i]! < 0n || data[i]! >= vocab) {
        const [row, col] = [Math.floor(i / this.sequenceLength), i % this.sequenceLength];
        throw new RangeError(`${CLIP_INPUT_IDS}[${row}, ${col}] = ${data[i]} is outside the vocabulary 0..${this.config.vocabSize - 1}`);
      }
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
