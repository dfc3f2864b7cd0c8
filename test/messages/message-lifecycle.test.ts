import { expect } from 'chai';
import { checkedMove, reachableStates, tableEdges, type SourcesOf } from '../../src/core/transition-table.js';
import {
  AWAITING_OPERATOR_STATUSES,
  FINAL_STATUSES,
  INITIAL_MESSAGE_STATUSES,
  MESSAGE_MOVES,
  MESSAGE_STATUSES,
  MESSAGE_TRANSITIONS,
  SENDABLE_STATUSES,
  type MessageStatus,
} from '../../src/messages/message-lifecycle.js';
import { checkedValues } from '../support/schema.js';

describe('message lifecycle', () => {
  const edgesOfMoves = new Set(MESSAGE_MOVES.flatMap((move) => move.from.map((from) => `${from} → ${move.to}`)));

  it('every edge of the transition table is made by one of its functions, and no function makes another', () => {
    expect([...edgesOfMoves].sort()).to.deep.equal(tableEdges(MESSAGE_TRANSITIONS).sort());
  });

  it('every status is reachable from a status a message is planned in', () => {
    expect([...reachableStates(MESSAGE_TRANSITIONS, INITIAL_MESSAGE_STATUSES)].sort()).to.deep.equal([...MESSAGE_STATUSES].sort());
  });

  it('names its status sets after the table: final ones have no way out, sendable ones are claimed, operators settle the rest', () => {
    const exits = (status: MessageStatus): readonly MessageStatus[] => MESSAGE_TRANSITIONS[status];
    expect([...FINAL_STATUSES].sort()).to.deep.equal(MESSAGE_STATUSES.filter((status) => exits(status).length === 0).sort());
    expect([...SENDABLE_STATUSES].sort()).to.deep.equal(MESSAGE_STATUSES.filter((status) => exits(status).includes('SENDING')).sort());
    for (const status of AWAITING_OPERATOR_STATUSES) expect(exits(status), status).to.include('QUEUED');
  });

  it('refuses to declare a move the table does not allow', () => {
    // The compiler refuses it first where the statuses are literals (npm test type-checks this file).
    const claimable: Array<SourcesOf<typeof MESSAGE_TRANSITIONS, 'SENDING'>> = ['QUEUED', 'FAILED', 'DEAD'];
    // @ts-expect-error a message under review is never claimed for sending
    claimable.push('PENDING_REVIEW');
    expect(() => checkedMove<MessageStatus>(MESSAGE_TRANSITIONS, ['PENDING_REVIEW'], 'SENDING')).to.throw('the transition table does not allow PENDING_REVIEW → SENDING');
    expect(() => checkedMove<MessageStatus>(MESSAGE_TRANSITIONS, ['SENT'], 'QUEUED')).to.throw('SENT → QUEUED');
  });

  it('the database admits exactly the statuses of the type', async () => {
    expect((await checkedValues('messages_status_check')).sort()).to.deep.equal([...MESSAGE_STATUSES].sort());
  });
});
