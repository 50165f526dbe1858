package dev.reins.runtime.delegation;

import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationState;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;

/**
 * Does a delegation's remote work: one actor per live delegation, a child of its {@link
 * DelegationEntity}, which journals what the driver reports and decides. A driver keeps nothing
 * that a restart would need: it is created from the delegation's state (with the remote id when
 * one is journaled, so that it re-attaches to the same remote work instead of starting another).
 */
public interface DelegationDriver {

  /** What the entity asks of its driver (drivers add their own, private, messages). */
  interface Command {}

  /** Cancel the remote work; answer with a {@link CancelOutcome} within {@code within}. */
  record CancelRemote(Duration within) implements Command {}

  /** What a driver tells its entity. */
  sealed interface Report {}

  /** The remote work exists (A2A task id, child run id); journal it before anything else. */
  record Started(String remoteId, String remoteState) implements Report {}

  record StateChanged(String remoteState) implements Report {}

  record Completed(DelegationResult result) implements Report {}

  /** Every error ends here, with a stable reason and a human detail: nothing fails quietly. */
  record Failed(String reason, String detail) implements Report {}

  record CancelOutcome(boolean confirmed, String detail) implements Report {}

  /** A driver for the delegation in {@code state}, reporting to {@code reportTo}. */
  Behavior<Command> create(DelegationState state, ActorRef<Report> reportTo);
}
