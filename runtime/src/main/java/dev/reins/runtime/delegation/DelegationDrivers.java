package dev.reins.runtime.delegation;

import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationTarget;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;

/** The driver for each kind of target. */
public record DelegationDrivers(DelegationDriver a2a, DelegationDriver run) implements DelegationDriver {
  @Override
  public Behavior<Command> create(DelegationState state, ActorRef<Report> reportTo) {
    if (state.spec().target() instanceof DelegationTarget.A2a) {
      return a2a.create(state, reportTo);
    }
    return run.create(state, reportTo);
  }
}
