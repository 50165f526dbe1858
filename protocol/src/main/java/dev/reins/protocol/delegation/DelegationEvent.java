package dev.reins.protocol.delegation;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.time.Instant;

/**
 * Every change to a delegation, written to its own journal ({@code Delegation|<id>}) before anyone
 * hears of it. The JSON names are stored names: they never change. {@link DelegationState#apply}
 * is the only place an event changes state.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = DelegationEvent.DelegationCreated.class, name = "DelegationCreated"),
  @JsonSubTypes.Type(value = DelegationEvent.RemoteTaskStarted.class, name = "RemoteTaskStarted"),
  @JsonSubTypes.Type(value = DelegationEvent.RemoteStateChanged.class, name = "RemoteStateChanged"),
  @JsonSubTypes.Type(value = DelegationEvent.DelegationCompleted.class, name = "DelegationCompleted"),
  @JsonSubTypes.Type(value = DelegationEvent.DelegationFailed.class, name = "DelegationFailed"),
  @JsonSubTypes.Type(value = DelegationEvent.DelegationCancelRequested.class, name = "DelegationCancelRequested"),
  @JsonSubTypes.Type(value = DelegationEvent.DelegationCancelled.class, name = "DelegationCancelled"),
  @JsonSubTypes.Type(value = DelegationEvent.DelegationTimedOut.class, name = "DelegationTimedOut"),
  @JsonSubTypes.Type(value = DelegationEvent.ParentInformed.class, name = "ParentInformed"),
})
public sealed interface DelegationEvent {

  Instant at();

  /**
   * The delegation exists: asked for by run {@code runId} (which journaled it first), with an
   * absolute {@code deadline} that survives every restart.
   */
  record DelegationCreated(String delegationId, String runId, String tenant, DelegationSpec spec, Instant deadline, Instant at)
      implements DelegationEvent {}

  /**
   * The remote work exists: the A2A task id (or the child run's id), journaled as soon as it is
   * known, so that a restart re-attaches to it instead of sending again.
   */
  record RemoteTaskStarted(String remoteId, String remoteState, Instant at) implements DelegationEvent {}

  /** The peer reported another state of the remote work (only changes are journaled). */
  record RemoteStateChanged(String remoteState, Instant at) implements DelegationEvent {}

  record DelegationCompleted(DelegationResult result, Instant at) implements DelegationEvent {}

  /**
   * The delegation failed: {@code reason} is a stable word ({@code peer_unreachable}, {@code
   * http_error}, {@code rpc_error}, {@code malformed_response}, {@code remote_failed}, {@code
   * remote_rejected}, {@code remote_canceled}, {@code child_failed}, ...), {@code detail} for humans.
   */
  record DelegationFailed(String reason, String detail, Instant at) implements DelegationEvent {}

  /** A cancel was asked for (by a client, or by the run's own cancel or end). */
  record DelegationCancelRequested(String reason, Instant at) implements DelegationEvent {}

  /** Cancelled; {@code detail} says whether the remote side confirmed it. */
  record DelegationCancelled(String detail, Instant at) implements DelegationEvent {}

  /** The deadline passed; {@code detail} says what became of the remote work. */
  record DelegationTimedOut(String detail, Instant at) implements DelegationEvent {}

  /** The parent run recorded how this delegation ended. */
  record ParentInformed(Instant at) implements DelegationEvent {}
}
