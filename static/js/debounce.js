/** fn called `ms` after the last of a burst of calls (with that call's arguments); .cancel() drops a pending one. */
export function debounce(fn, ms) {
  let timer = null;
  const call = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  call.cancel = () => { clearTimeout(timer); timer = null; };
  return call;
}
