// Preloaded (node -r) into GitHub's cache client by the tests: resolves
// <account>.blob.core.windows.net to 127.0.0.1, where azurite listens, so
// that @actions/cache takes the Azure SDK's download path (HEAD, then
// parallel ranged GETs) that it keeps for real Azure hosts.
'use strict';
const dns = require('node:dns');
const original = dns.lookup;
dns.lookup = function lookup(host, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (typeof host === 'string' && host.endsWith('.blob.core.windows.net')) {
    const opts = typeof options === 'number' ? { family: options } : options || {};
    if (opts.all) return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
    return process.nextTick(callback, null, '127.0.0.1', 4);
  }
  return original.call(dns, host, options, callback);
};
