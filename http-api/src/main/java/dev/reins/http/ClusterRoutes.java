package dev.reins.http;

import dev.reins.protocol.api.ClusterView;
import dev.reins.protocol.auth.Scope;
import dev.reins.runtime.worker.WorkerPool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;

/** {@code GET /v1/cluster}: the members as this node sees them, and each node's worker slots. */
final class ClusterRoutes extends AllDirectives {
  private final ActorSystem<?> system;
  private final ActorRef<WorkerPool.Command> pool;
  private final Duration askTimeout;

  ClusterRoutes(ActorSystem<?> system, ActorRef<WorkerPool.Command> pool, Duration askTimeout) {
    this.system = system;
    this.pool = pool;
    this.askTimeout = askTimeout;
  }

  List<Endpoint> endpoints() {
    return List.of(Endpoint.get("/cluster", Access.scope(Scope.RUNS_READ), c -> onSuccess(
        AskPattern.ask(pool, WorkerPool.GetStatus::new, askTimeout, system.scheduler()),
        status -> Json.complete(StatusCodes.OK, view(status), List.of()))));
  }

  private ClusterView view(WorkerPool.Status status) {
    Cluster cluster = Cluster.get(system);
    String self = cluster.selfMember().address().toString();
    Map<String, ClusterView.Slots> slots = new HashMap<>();
    slots.put(self, new ClusterView.Slots(status.slots(), status.running().size(), status.queued().size(), false));
    for (WorkerPool.Capacity c : status.peers()) {
      slots.put(c.node(), new ClusterView.Slots(c.slots(), c.busy(), c.queued(), c.draining()));
    }
    Set<Member> unreachable = cluster.state().getUnreachable();
    List<ClusterView.Member> members = new ArrayList<>();
    for (Member m : cluster.state().getMembers()) {
      String address = m.address().toString();
      members.add(new ClusterView.Member(address, m.status().toString().toLowerCase(java.util.Locale.ROOT),
          new TreeSet<>(m.getRoles()), !unreachable.contains(m), address.equals(self), slots.get(address)));
    }
    String leader = cluster.state().getLeader() == null ? null : cluster.state().getLeader().toString();
    return new ClusterView(self, leader, members);
  }
}
