import type { ChannelAdapter, OutboundMessage } from '../../src/channels/adapter.js';

/** People as they are: accents, apostrophes, CJK, Arabic, emoji (see /work/shared/fixtures). */
export const realPeople = [
  { email: 'sean.obrien@att-labs.example', firstName: 'Seán', lastName: "O'Brien", company: 'AT&T <Labs>' },
  { email: 'wang.fang@example.cn', firstName: '芳', lastName: '王', company: '北京科技' },
  { email: 'layla@example.ae', firstName: 'ليلى', lastName: 'حداد', company: 'شركة 🚀' },
];

/** An email adapter that refuses every message with `refusal()` until it is fixed, recording each call. */
export function brokenRelay(refusal: () => Error) {
  const calls: OutboundMessage[] = [];
  let broken = true;
  const adapter: ChannelAdapter = {
    provider: 'test-smtp',
    send(message) {
      calls.push(message);
      if (broken) return Promise.reject(refusal());
      return Promise.resolve({ provider: 'test-smtp', externalId: `ext-${message.id}` });
    },
  };
  return {
    adapter,
    calls,
    fix() {
      broken = false;
    },
  };
}
