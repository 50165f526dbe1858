package dev.reins.protocol.delegation;

import java.time.Instant;

/**
 * The state of one delegation, derived only by folding its events with {@link #apply}.
 *
 * @param remoteId the A2A task id or the child run id, once known
 * @param cancelReason set once a cancel was asked for (the delegation is still working until the
 *     remote side answered or the bounded wait for it ended)
 * @param parentInformed whether the parent run has recorded the end
 */
public record DelegationState(
    String delegationId,
    String runId,
    String tenant,
    DelegationSpec spec,
    DelegationStatus status,
    Instant deadline,
    Instant createdAt,
    Instant updatedAt,
    String remoteId,
    String remoteState,
    DelegationResult result,
    String reason,
    String detail,
    String cancelReason,
    boolean parentInformed) {

  public static final DelegationState EMPTY =
      new DelegationState(null, null, null, null, null, null, null, null, null, null, null, null, null, null, false);

  public boolean exists() {
    return status != null;
  }

  public DelegationState apply(DelegationEvent event) {
    if (event instanceof DelegationEvent.DelegationCreated e) {
      return new DelegationState(e.delegationId(), e.runId(), e.tenant(), e.spec(), DelegationStatus.PENDING, e.deadline(),
          e.at(), e.at(), null, null, null, null, null, null, false);
    } else if (event instanceof DelegationEvent.RemoteTaskStarted e) {
      return with(DelegationStatus.WORKING, e.remoteId(), e.remoteState(), result, reason, detail, cancelReason, e.at());
    } else if (event instanceof DelegationEvent.RemoteStateChanged e) {
      return with(status, remoteId, e.remoteState(), result, reason, detail, cancelReason, e.at());
    } else if (event instanceof DelegationEvent.DelegationCompleted e) {
      return with(DelegationStatus.COMPLETED, remoteId, remoteState, e.result(), null, null, cancelReason, e.at());
    } else if (event instanceof DelegationEvent.DelegationFailed e) {
      return with(DelegationStatus.FAILED, remoteId, remoteState, null, e.reason(), e.detail(), cancelReason, e.at());
    } else if (event instanceof DelegationEvent.DelegationCancelRequested e) {
      return with(status, remoteId, remoteState, result, reason, detail, e.reason(), e.at());
    } else if (event instanceof DelegationEvent.DelegationCancelled e) {
      return with(DelegationStatus.CANCELLED, remoteId, remoteState, null, "cancelled", e.detail(), cancelReason, e.at());
    } else if (event instanceof DelegationEvent.DelegationTimedOut e) {
      return with(DelegationStatus.TIMED_OUT, remoteId, remoteState, null, "deadline", e.detail(), cancelReason, e.at());
    } else if (event instanceof DelegationEvent.ParentInformed e) {
      return new DelegationState(delegationId, runId, tenant, spec, status, deadline, createdAt, updatedAt, remoteId, remoteState,
          result, reason, detail, cancelReason, true);
    }
    throw new IllegalArgumentException("unknown delegation event " + event.getClass().getName());
  }

  private DelegationState with(
      DelegationStatus status, String remoteId, String remoteState, DelegationResult result, String reason, String detail,
      String cancelReason, Instant at) {
    return new DelegationState(delegationId, runId, tenant, spec, status, deadline, createdAt, at, remoteId, remoteState,
        result, reason, detail, cancelReason, parentInformed);
  }
}
