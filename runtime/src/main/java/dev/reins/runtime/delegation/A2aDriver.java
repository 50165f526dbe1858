package dev.reins.runtime.delegation;

import dev.reins.protocol.delegation.DelegationState;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** A delegation to an A2A agent. TODO(a2a): the client is being written; until then it fails loudly. */
public final class A2aDriver implements DelegationDriver {
  @Override
  public Behavior<Command> create(DelegationState state, ActorRef<Report> reportTo) {
    return Behaviors.setup(ctx -> {
      reportTo.tell(new Failed("a2a_unavailable", "the A2A client is not built yet"));
      return Behaviors.ignore();
    });
  }
}
