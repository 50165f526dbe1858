package dev.reins.http;

import dev.reins.persistence.JournalHealth;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/** {@code /v1/health}: live while the process serves HTTP; ready when it can take runs. */
final class HealthRoutes extends AllDirectives {
  private final ActorSystem<?> system;
  private final JournalHealth journal;
  private final NodeStatus node;

  HealthRoutes(ActorSystem<?> system, JournalHealth journal, NodeStatus node) {
    this.system = system;
    this.journal = journal;
    this.node = node;
  }

  List<Endpoint> endpoints() {
    return List.of(
        Endpoint.get("/health/live", Access.PUBLIC, c -> complete(ok("live"))),
        Endpoint.get("/health/ready", Access.PUBLIC, c -> ready()));
  }

  /** From what the node already knows (JournalHealth checks the journal all the time): a probe never waits. */
  private Route ready() {
    var notReady = node.notReady();
    if (notReady.isPresent()) {
      return Problems.complete(Problem.of(503, "not-ready", "Not ready", notReady.get()));
    }
    MemberStatus status = Cluster.get(system).selfMember().status();
    if (status != MemberStatus.up()) {
      return Problems.complete(Problem.of(503, "not-ready", "Not ready", "this node is not an Up cluster member (it is " + status + ")"));
    }
    if (!journal.ready()) {
      return Problems.complete(Problem.of(503, "not-ready", "Not ready", "the journal database does not answer: " + journal.lastFailure()));
    }
    return complete(ok("ready"));
  }

  private static HttpResponse ok(String status) {
    return HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, "{\"status\":\"" + status + "\"}"));
  }
}
