// /?compare=id1,id2 (the runs page's "Compare"): the stored runs a dashboard opens with on its charts.
// A run taken off the charts leaves the address too, so that a reload does not bring it back.

const MAX_COMPARED = 10;

/** -> {ids: the runs to put on the charts (at most 10, no repeats), forget(id)} */
export function compareLink() {
  const ids = [...new Set((new URLSearchParams(location.search).get("compare") || "")
    .split(",").map((id) => id.trim()).filter(Boolean))].slice(0, MAX_COMPARED);
  return {
    ids,
    forget(id) {
      const url = new URL(location.href);
      const listed = (url.searchParams.get("compare") || "").split(",").filter(Boolean);
      if (!listed.includes(id)) return;
      const rest = listed.filter((other) => other !== id);
      if (rest.length) url.searchParams.set("compare", rest.join(","));
      else url.searchParams.delete("compare");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    },
  };
}
