// The dashboard's address carries the builder's config (#config=..., hash.js): a link opens with its
// network in the builder, a damaged link says so and shows the start network, and a link pasted into
// the address bar of an open dashboard loads its network.

import { readConfigFromHash, writeConfigToHash } from "../hash.js";
import { hideNotice, showNotice } from "./notice.js";

/**
 * builder: the Builder; fallback: the config shown without a readable link; notice: where a damaged
 * link is explained. onLoad(): the builder was reloaded from the address; onConfig(config): the
 * address held a config (to check with the server).
 * -> {hadConfig}: whether the page was opened with a config in its address.
 */
export function configLink(builder, { fallback, notice, onLoad = () => {}, onConfig = () => {} }) {
  function load() {
    const fromHash = readConfigFromHash();
    onLoad();
    if (fromHash.error) {
      showNotice(notice, `The settings in this link could not be read: ${fromHash.error}. The default network (the book's overfitting experiment) is shown instead.`);
      builder.setConfig(fallback, { silent: true });
      writeConfigToHash(builder.getConfig());
    } else if (fromHash.config) {
      hideNotice(notice);
      builder.setConfig(fromHash.config, { silent: true });
      writeConfigToHash(builder.getConfig());
      onConfig(builder.getConfig());
    } else {
      hideNotice(notice);
      writeConfigToHash(builder.getConfig());
    }
  }

  const hadConfig = Boolean(readConfigFromHash().config);
  load();
  window.addEventListener("hashchange", () => {
    // Someone pasted another link into the address bar of an open dashboard.
    const fromHash = readConfigFromHash();
    if (fromHash.config && JSON.stringify(fromHash.config) === JSON.stringify(builder.getConfig())) return;
    load();
  });
  return { hadConfig };
}
