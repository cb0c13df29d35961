// The builder's words: the tooltips of its fields, the labels of its choices, and the order the
// optimizers are offered in.

export const TIPS = {
  "data.train_size": "How many MNIST images the network trains on. The book uses 300 so that overfitting shows quickly. Every image not used for training (or validation) is a test image.",
  seed: "Random seed. The same seed and settings give exactly the same numbers: data split, initial weights, shuffling and dropout masks.",
  "data.validation_size": "Images held out from training to tune hyperparameters without peeking at the test set (the book's search uses 20 %). 0 = none.",
  "data.test_size": "Images used to measure how well the network generalises. Leave empty to use every image not used for training or validation.",
  "training.dtype": "Floating-point precision of the computation: float32 is faster, float64 more exact.",
  name: "Optional name shown in the run lists.",
  units: "Number of neurons in this hidden layer.",
  activation: "Non-linear function applied to the layer's output (after batch norm, if on). ReLU is the book's default. Hard sigmoid is relu6(x + 3) / 6: 0 below −3, 1 above 3, a straight line in between.",
  batch_norm: "Batch normalisation: normalise each unit over the mini-batch, then scale and shift it with learned γ and β. Sits between the affine map and the activation.",
  dropout: "Dropout rate p: the fraction of this layer's units switched off at random in each training step. 0 = no dropout.",
  type: "Dense: every unit sees every number of its input. Conv: small filters slide over the image and each one learns to detect a local pattern (an edge, a stroke), making one feature map. Max-pool: keeps the largest value of each small window, so the maps shrink and small shifts of the digit matter less. Maxout: like dense, but each unit has k sets of weights (pieces) and outputs the largest of its k results, so it learns its own activation. Conv and max-pool layers come first, while the input is still an image; the first dense or maxout layer flattens the maps into one list of numbers.",
  filters: "Number of filters this layer learns. Each filter is a kernel×kernel window of weights (for each input map) and produces one feature map.",
  kernel: "Side of the square window each filter looks at: 5 means 5×5 pixels.",
  conv_stride: "Step in pixels between two positions of the window. 1 looks at every position; 2 halves the size of the maps.",
  pad: "Rings of zeros added around each map before sliding the window. With kernel k, padding (k−1)/2 keeps the size (28×28 stays 28×28); 0 shrinks it by k−1.",
  conv_batch_norm: "Batch normalisation per feature map: each map is normalised over the mini-batch and all its positions, then scaled and shifted with a learned γ and β. Sits between the convolution and the activation.",
  conv_dropout: "Dropout rate p: the fraction of this layer's outputs switched off at random in each training step. 0 = no dropout.",
  size: "Side of the square window: each output is the largest value in its window. 2 halves the height and width of the maps.",
  pool_stride: "Step in pixels between two windows. Equal to the size: windows side by side without overlap (the usual choice).",
  maxout_units: "Number of maxout units in this layer: each sees every number of its input through k pieces of its own.",
  pieces: "k, the affine pieces per unit (Goodfellow et al. 2013): unit i outputs h = max over j of (x·W_ij + b_ij). With k = 2 a unit can learn a ReLU (one piece at 0), |x| or a leaky ReLU; more pieces make finer convex curves. The layer has k times the weights of a dense layer of the same units. With k = 2, Xavier init keeps the scale of the outputs from layer to layer (He doubles their mean square per layer: see the activation-histograms lab).",
  maxout_dropout: "Dropout rate p on the units' outputs (after the max), as in the maxout paper. 0 = no dropout.",
  "model.weight_init": "How the initial weights are drawn. He: std √(2/n), suits ReLU. Xavier: std 1/√n, suits sigmoid and tanh. std: a Gaussian with the fixed std below.",
  "model.weight_init_std": "Standard deviation of the Gaussian initial weights (the book compares 1 and 0.01).",
  "model.loss": "The function training minimises. Softmax + cross-entropy is the book's choice for classification.",
  "model.dropout_style": "Where dropout's 1 − p is accounted for, in every layer with dropout. Inverted: kept units are scaled by 1/(1 − p) while training and the trained network is used as it is. The book's: kept units pass unscaled while training and every unit is scaled by 1 − p at test time. Both give the same expected output, but the book's shrinks each layer's training signal by 1 − p, so a deep network learns more slowly (the book's Fig. 6-23 uses it).",
  "model.batch_norm_eps": "ε added to the batch variance before dividing by its square root, in every batch-norm layer. The book uses 10⁻⁶; 10⁻⁵ is the default here and in PyTorch. It matters when the variance is tiny (initial weights of std 10⁻⁴): a larger ε then keeps batch norm from scaling the signal up.",
  "optimizer.name": "How each gradient is turned into a weight update (section 6.1 of the book).",
  "training.epochs": "One epoch is one pass over all training images. Accuracy is measured after each epoch.",
  "training.batch_size": "Images per gradient step (mini-batch size).",
  "training.weight_decay": "λ of the L2 penalty ½·λ·‖W‖² added to the loss, over every weight matrix and conv kernel (not the biases or batch norm's γ and β). It pulls the weights towards 0 and fights overfitting; the book uses 0.1.",
};

export const HYPER_TIPS = {
  lr: "Learning rate η: the size of each step. Too large and the loss diverges, too small and learning crawls.",
  momentum: "Momentum α: how much of the previous velocity is kept (v ← αv − η∂L/∂W).",
  beta1: "β₁: decay rate of the running mean of the gradients.",
  beta2: "β₂: decay rate of the running mean of the squared gradients.",
  beta3: "β₃: decay rate of the running estimate of the relative change of the loss (Eve).",
  decay_rate: "Decay rate ρ of the running mean of the squared gradients.",
  rho: "Decay rate ρ of the running averages.",
  eps: "ε: a small constant that avoids division by zero.",
  epsilon: "ε: a small constant that avoids division by zero.",
  final_lr: "Learning rate the bounds converge to (AdaBound).",
  gamma: "Convergence speed γ of the bounds (AdaBound).",
  k: "Lower threshold for the relative change of the loss (Eve).",
  K: "Upper threshold for the relative change of the loss (Eve).",
  sigma: "Decay rate σ of the running mean of the squared gradients (Santa).",
  C: "Santa's initial friction is α₀ = C·√η: each step keeps about 1 − α of the momentum (default 1000: α₀ = 0.1).",
  N: "Santa's data-size factor: it samples exp(−β·N·mean loss), so its gradient step is η·N (default 10⁴: η·N = 10⁻⁴) and a larger N makes the noise count for less.",
  burnin: "Number of exploration steps before Santa switches to refinement.",
  anneal_a: "Annealing schedule β_t = a·(b + t)^c: the factor a.",
  anneal_b: "Annealing schedule β_t = a·(b + t)^c: the offset b.",
  anneal_c: "Annealing schedule β_t = a·(b + t)^c: the exponent c.",
};

// The book's order (design.md §2); names the server adds later go at the end.
export const OPTIMIZER_ORDER = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adadelta", "adamax", "nadam",
  "amsgrad", "adabound", "amsbound", "rmsprop_graves", "smorms3", "eve", "santa_e", "santa_sss"];
const rank = (name, order) => (order.includes(name) ? order.indexOf(name) : order.length);
export const byOrder = (order) => (a, b) => rank(a, order) - rank(b, order) || (a < b ? -1 : a > b ? 1 : 0);

export const HYPER_LABELS = {
  lr: "learning rate η", momentum: "momentum α", beta1: "β₁", beta2: "β₂", beta3: "β₃",
  decay_rate: "decay rate ρ", rho: "ρ", eps: "ε", epsilon: "ε",
};

export const WEIGHT_INIT_LABELS = { he: "He (std √(2/n))", xavier: "Xavier (std 1/√n)", std: "Gaussian (std)" };
export const DROPOUT_STYLE_LABELS = { inverted: "inverted", book: "the book's" };
// What a model without these keys means: a stored run or share link from before they existed. The
// server says so in its schema (absent_means); these are the same values for an older server.
export const ABSENT_MEANS = { "model.dropout_style": "inverted", "model.batch_norm_eps": 1e-5 };
export const LOSS_LABELS = {
  cross_entropy: "softmax + cross-entropy",
  mean_squared_error: "mean squared error",
  binary_cross_entropy: "sigmoid + binary cross-entropy",
};
