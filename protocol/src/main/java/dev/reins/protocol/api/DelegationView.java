package dev.reins.protocol.api;

import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.protocol.run.RunDelegation;
import java.time.Instant;

/**
 * A delegation as the API shows it. {@code remote} is the A2A task (its id and last known state)
 * or the child run; {@code reason} and {@code detail} say why it failed, timed out or was
 * cancelled; {@code result} is set when it completed.
 */
public record DelegationView(
    String id,
    String runId,
    DelegationStatus state,
    DelegationTarget target,
    long timeoutSeconds,
    String onParentEnd,
    String idempotencyKey,
    Instant deadline,
    Instant createdAt,
    Instant updatedAt,
    Remote remote,
    String reason,
    String detail,
    DelegationResult result) {

  public record Remote(String id, String state) {}

  public static DelegationView of(DelegationState s) {
    return new DelegationView(s.delegationId(), s.runId(), s.status(), s.spec().target(), s.spec().timeoutSeconds(),
        s.spec().onParentEnd().json(), s.spec().idempotencyKey(), s.deadline(), s.createdAt(), s.updatedAt(),
        s.remoteId() == null ? null : new Remote(s.remoteId(), s.remoteState()), s.reason(), s.detail(), s.result());
  }

  /** Before the delegation's own journal has its first event: what the run journaled. */
  public static DelegationView requested(String runId, RunDelegation d) {
    return new DelegationView(d.id(), runId, DelegationStatus.PENDING, d.spec().target(), d.spec().timeoutSeconds(),
        d.spec().onParentEnd().json(), d.spec().idempotencyKey(), d.deadline(), d.requestedAt(), d.requestedAt(),
        null, null, null, null);
  }
}
