package dev.reins.http;

import dev.reins.persistence.RunJournal;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
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
  private static final Duration JOURNAL_TIMEOUT = Duration.ofSeconds(3);

  private final ActorSystem<?> system;
  private final RunJournal journal;

  HealthRoutes(ActorSystem<?> system, RunJournal journal) {
    this.system = system;
    this.journal = journal;
  }

  List<Endpoint> endpoints() {
    return List.of(
        Endpoint.get("/health/live", Access.PUBLIC, c -> complete(ok("live"))),
        Endpoint.get("/health/ready", Access.PUBLIC, c -> onSuccess(ready(), r -> r)));
  }

  private CompletionStage<Route> ready() {
    MemberStatus status = Cluster.get(system).selfMember().status();
    if (status != MemberStatus.up()) {
      return java.util.concurrent.CompletableFuture.completedFuture(
          Problems.complete(Problem.of(503, "not-ready", "Not ready", "this node is not an Up cluster member (it is " + status + ")")));
    }
    return journal.ping(JOURNAL_TIMEOUT)
        .handle((ok, e) -> e == null
            ? complete(ok("ready"))
            : Problems.complete(Problem.of(503, "not-ready", "Not ready", "the journal database does not answer: " + e.getMessage())));
  }

  private static HttpResponse ok(String status) {
    return HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, "{\"status\":\"" + status + "\"}"));
  }
}
