// "Re-run" on a run's page: the same config trained again, overlaid on the same charts; when a re-run
// finishes, its epoch records are compared with the original's (same settings and seed: the same numbers).

import { getRun } from "../api.js";
import { showNotice, hideNotice } from "./notice.js";

const COMPARED = ["train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc"];

/**
 * button: Re-run; notice: where the comparison is told. runId: the original; config(): its config;
 * live (Live), status (StatusPanel), list (RunList: a re-run's short name).
 * -> {compare(id)}: compare run `id` with the original if it is one of the re-runs started here.
 */
export function rerunButton(button, { notice, runId, config, live, status, list }) {
  const reruns = new Set();

  button.disabled = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    hideNotice(notice);
    status.set("starting", "Sending the same settings to the server…");
    let ack;
    try {
      ack = await live.start(config(), { short: `re-run ${reruns.size + 1}`, origin: { kind: "rerun", source: runId } });
    } catch (err) {
      status.failed(null, err.message);
      button.disabled = false;
      return;
    }
    button.disabled = false;
    if (ack.error) { status.set("error", `Re-run not started: ${ack.error}`); return; }
    reruns.add(ack.run_id);
  });

  async function compare(id) {
    if (!reruns.has(id)) return;
    let a, b;
    try { [a, b] = await Promise.all([getRun(runId), getRun(id)]); } catch (err) { return; }
    const ma = a.metrics || [], mb = b.metrics || [];
    const n = Math.min(ma.length, mb.length);
    const diff = firstDifference(ma, mb, n);
    const entry = list.get(id);
    const label = entry ? entry.short : "the re-run";
    if (diff) {
      showNotice(notice, `${label} differs from the original at epoch ${diff.epoch}: ${diff.key} ${diff.a} vs ${diff.b}.`, { kind: "warning" });
    } else if (ma.length !== mb.length) {
      showNotice(notice, `${label}: the first ${n} epoch records are identical to the original (the runs have ${ma.length} and ${mb.length} records).`, { kind: "info" });
    } else {
      showNotice(notice, `${label} reproduced the original exactly: the same loss and accuracy at all ${n} epoch records (same settings, same seed).`, { kind: "success" });
    }
  }

  return { compare };
}

/** The first {epoch, key, a, b} where the first n records of two runs differ, else null. */
function firstDifference(ma, mb, n) {
  for (let i = 0; i < n; i++) {
    for (const key of COMPARED) {
      if ((ma[i][key] ?? null) !== (mb[i][key] ?? null)) return { epoch: ma[i].epoch, key, a: ma[i][key], b: mb[i][key] };
    }
  }
  return null;
}
