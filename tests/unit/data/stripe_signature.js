// Makes tests/unit/data/stripe_signature.txt with Stripe's own library.
const Stripe = require('stripe');
const stripe = new Stripe('sk_test_unused');
const secret = 'whsec_rvTestVector0123456789abcdefABCDEF';
const payload = JSON.stringify({id: 'evt_1RvTest', object: 'event', type: 'checkout.session.completed',
  data: {object: {id: 'cs_test_rv1', object: 'checkout.session', payment_status: 'paid'}}});
const timestamp = 1764614400; // 2025-12-01T18:40:00Z
const header = stripe.webhooks.generateTestHeaderString({payload, secret, timestamp});
// Stripe's own verification of it, at that time:
stripe.webhooks.constructEvent(payload, header, secret, 300, undefined, timestamp);
console.log('secret ' + secret);
console.log('timestamp ' + timestamp);
console.log('header ' + header);
console.log('payload ' + payload);
