// The S3-compatible test server on 127.0.0.1, run by tests/s3/start.
// @20minutes/s3rver checks SigV4 signatures of requests and of presigned URLs (the
// original s3rver 3.x accepts any V4 signature), and their expiry. It does not
// enforce access control: an unsigned request is served too.
// Usage: node server.js PORT DIRECTORY BUCKET; credentials from RV_S3_ACCESS_KEY_ID
// and RV_S3_SECRET_ACCESS_KEY (S3RVER/S3RVER when unset); RV_S3_VERBOSE=1 logs
// requests. Prints "listening on ADDRESS:PORT" once it accepts connections.
'use strict';

const S3rver = require('@20minutes/s3rver');
const { DUMMY_ACCOUNT } = require('@20minutes/s3rver/lib/models/account');

const [port, directory, bucket] = process.argv.slice(2);
if (!port || !directory || !bucket) {
  console.error('usage: node server.js PORT DIRECTORY BUCKET');
  process.exit(64);
}
const keyId = process.env.RV_S3_ACCESS_KEY_ID;
const secret = process.env.RV_S3_SECRET_ACCESS_KEY;
if (keyId && secret) DUMMY_ACCOUNT.createKeyPair(keyId, secret);

const server = new S3rver({
  address: process.env.RV_S3_ADDRESS || '127.0.0.1', // another host's address: make multihost
  port: Number(port),
  directory,
  silent: !process.env.RV_S3_VERBOSE,
  vhostBuckets: false,
  configureBuckets: [{ name: bucket, configs: [] }],
});
server.run().then(
  ({ address, port: p }) => console.log(`listening on ${address}:${p}`),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
// Idle keep-alive connections may hold close() up: give it a second.
const stop = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
