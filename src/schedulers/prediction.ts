// What the network predicts, turned into the two quantities every sampler needs: the clean sample x_0
// and the noise eps, both at noise level alpha_bar_t.
//
// Notation (Ho et al. 2020; Salimans & Ho 2022, section 4):
//   alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t)   (variance preserving: alpha^2 + sigma^2 = 1)
//   x_t = alpha_t x_0 + sigma_t eps
//   "epsilon":      the model predicts eps
//   "v_prediction": the model predicts v = alpha_t eps - sigma_t x_0

export type PredictionType = "epsilon" | "v_prediction";
export const PREDICTION_TYPES: readonly PredictionType[] = ["epsilon", "v_prediction"];

/** x_0 and eps in float64 (a sampler rounds once, at the end of its step). */
export interface DataAndNoise {
  x0: Float64Array;
  eps: Float64Array;
}

export function checkSameLength(modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new Error(`modelOutput has ${modelOutput.length} elements, sample has ${sample.length}; they must match`);
  }
}

/** x_0 and eps from the model output at noise level alphaBar. */
export function dataAndNoise(prediction: PredictionType, modelOutput: Float32Array, sample: Float32Array, alphaBar: number): DataAndNoise {
  checkSameLength(modelOutput, sample);
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const n = sample.length;
  const x0 = new Float64Array(n);
  const eps = new Float64Array(n);
  if (prediction === "epsilon") {
    // x_0 = (x_t - sigma_t eps) / alpha_t (Ho et al. 2020, eq. 15 rearranged)
    for (let i = 0; i < n; i++) {
      eps[i] = modelOutput[i];
      x0[i] = (sample[i] - s * modelOutput[i]) / a;
    }
  } else {
    // x_0 = alpha_t x_t - sigma_t v, eps = alpha_t v + sigma_t x_t (Salimans & Ho 2022, section 4)
    for (let i = 0; i < n; i++) {
      x0[i] = a * sample[i] - s * modelOutput[i];
      eps[i] = a * modelOutput[i] + s * sample[i];
    }
  }
  return { x0, eps };
}
