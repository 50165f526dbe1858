package dev.reins.http;

import com.typesafe.config.Config;
import dev.reins.persistence.JournalDatabase;
import dev.reins.persistence.JournalHealth;
import dev.reins.persistence.JournalSchema;
import dev.reins.persistence.RunJournal;
import dev.reins.persistence.runlist.RunListProjection;
import dev.reins.persistence.feed.JournalFeed;
import dev.reins.runtime.ReinsNode;
import dev.reins.runtime.metrics.ReinsMetrics;
import dev.reins.runtime.run.Runs;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import dev.reins.http.auth.Authenticator;
import dev.reins.persistence.Connections;
import dev.reins.persistence.auth.AdminBootstrap;
import dev.reins.persistence.auth.TokenStore;
import dev.reins.runtime.auth.RunTokens;
import dev.reins.runtime.worker.JobCredentials;
import com.typesafe.config.ConfigFactory;
import dev.reins.persistence.cluster.ClusterLease;
import dev.reins.protocol.api.CreateDelegationRequest;
import dev.reins.runtime.cluster.LeaseKeeper;
import dev.reins.runtime.delegation.A2aAllowlist;
import dev.reins.runtime.delegation.A2aDriver;
import dev.reins.runtime.delegation.ChildRunDriver;
import dev.reins.runtime.delegation.DelegationDrivers;
import dev.reins.runtime.delegation.DelegationEntity;
import dev.reins.runtime.delegation.DelegationSettings;
import dev.reins.runtime.run.NodeRecovery;
import java.util.Set;
import java.util.concurrent.CompletionException;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.cluster.typed.SelfUp;
import org.apache.pekko.cluster.typed.Subscribe;
import dev.reins.runtime.worker.WorkerPool;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import dev.reins.runtime.worker.WorkerSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import scala.concurrent.ExecutionContextExecutor;
import org.apache.pekko.actor.typed.DispatcherSelector;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Reins server: the journal schema, the actor system (a cluster node), the runtime and the
 * HTTP API. {@link #start} returns once HTTP is bound; {@link #close} shuts everything down.
 */
public final class ReinsServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReinsServer.class);
  /** The actor system's name: part of every remoting address (pekko://reins@host:port). */
  static final String SYSTEM_NAME = "reins";

  private final ActorSystem<Void> system;
  private final ServerBinding binding;
  private final List<Endpoint> endpoints;
  private final EventRoutes events;

  private ReinsServer(ActorSystem<Void> system, ServerBinding binding, List<Endpoint> endpoints, EventRoutes events) {
    this.system = system;
    this.binding = binding;
    this.endpoints = endpoints;
    this.events = events;
  }

  private record Bound(ServerBinding binding, List<Endpoint> endpoints, EventRoutes events) {}

  /** Starts a server from a resolved configuration (see the reference.conf files for the keys). */
  public static ReinsServer start(Config config) {
    Clock clock = Clock.systemUTC();
    JournalDatabase db = JournalDatabase.fromConfig(config);
    HttpSettings http = HttpSettings.fromConfig(config);
    WorkerSettings workers = WorkerSettings.fromConfig(config);
    if (config.getBoolean("reins.db.create-schema")) {
      JournalSchema.createIfMissing(db);
    }
    RunTokens runTokens;
    try {
      TokenStore direct = new TokenStore(Connections.direct(db), clock);
      direct.ensureSigningKey();
      if (http.adminToken().isEmpty()) {
        AdminBootstrap.createIfNoTokens(direct, JournalDatabase.dataDir(config)).ifPresent(file ->
            log.warn("created the first admin token and wrote it to {} (readable by this user only); use it as "
                + "'Authorization: Bearer $(cat {})' and create narrower tokens with ./reins tokens create", file, file));
      }
      runTokens = new RunTokens(direct::signingKeys, clock);
      runTokens.reload();
    } catch (Exception e) {
      throw new IllegalStateException("Reins could not read or create its tokens in " + db + ": " + rootMessage(e), e);
    }
    Config full = db.pekkoConfig().withFallback(clusterConfig(joinFirst(config, db, clock), db)).resolve();
    CompletableFuture<Bound> bound = new CompletableFuture<>();
    ActorSystem<Void> system = ActorSystem.create(guardian(full, http, workers, runTokens, clock, bound), SYSTEM_NAME, full);
    try {
      Bound b = bound.get(120, TimeUnit.SECONDS);
      ServerBinding binding = b.binding();
      log.info("Reins is listening on http://{}:{} (journal: {}, data: {})",
          binding.localAddress().getHostString(), binding.localAddress().getPort(), db, JournalDatabase.dataDir(full));
      return new ReinsServer(system, binding, b.endpoints(), b.events());
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("Reins could not start: " + rootMessage(e), e);
    }
  }

  /**
   * Seed nodes from {@code reins.cluster.seed-nodes} (REINS_SEED_NODES); without them the node
   * forms a cluster of its own. The shutdown phase that drains the workers may take the drain
   * time plus the longest stop.
   */
  static Config clusterConfig(Config config, JournalDatabase db) {
    Map<String, Object> overrides = new HashMap<>();
    List<String> seeds = HttpSettings.list(config.getString("reins.cluster.seed-nodes"));
    if (!seeds.isEmpty()) {
      if (db.dialect() == JournalDatabase.Dialect.H2) {
        throw new IllegalStateException("REINS_SEED_NODES is set, but the journal is an H2 database: H2 is a single-node "
            + "database (one server process owns the file), so every node would have a journal of its own and runs "
            + "would be lost or doubled. A cluster needs PostgreSQL: set REINS_DB_URL=jdbc:postgresql://...");
      }
      List<String> uris = new ArrayList<>();
      for (String seed : seeds) {
        int colon = seed.lastIndexOf(':');
        if (colon <= 0 || !seed.substring(colon + 1).matches("\\d{1,5}")) {
          throw new IllegalArgumentException("REINS_SEED_NODES: '" + seed + "' is not host:port (the remoting address of a seed node)");
        }
        uris.add("pekko://" + SYSTEM_NAME + "@" + seed);
      }
      overrides.put("pekko.cluster.seed-nodes", uris);
    }
    long stopSeconds = config.getInt("reins.shutdown.drain-seconds") + config.getDuration("reins.shutdown.stop-grace-cap").toSeconds() + 5;
    overrides.put("pekko.coordinated-shutdown.phases.service-stop.timeout", stopSeconds + "s");
    return ConfigFactory.parseMap(overrides).withFallback(config);
  }

  /**
   * The first seed node forms a new cluster when no other seed answers its first call within
   * {@code seed-node-timeout} (a busy machine, a slow network). Restarted while its cluster lives
   * on, say in a rolling restart, it would then form a second cluster, which the journal's lease
   * refuses, and the node would not start. So a first seed that sees the lease being renewed by a
   * live cluster other than its own earlier life lists itself last: it only joins. On a cold start
   * (no lease, a lapsed one, or one nobody renews any more) the order stays and it forms the cluster.
   */
  static Config joinFirst(Config config, JournalDatabase db, Clock clock) {
    List<String> seeds = HttpSettings.list(config.getString("reins.cluster.seed-nodes"));
    String self = config.getString("reins.remote.host") + ":" + config.getInt("reins.remote.port");
    if (seeds.size() < 2 || !seeds.get(0).equals(self) || db.dialect() != JournalDatabase.Dialect.POSTGRES) {
      return config;
    }
    LeaseKeeper.Settings settings = LeaseKeeper.Settings.fromConfig(config);
    ClusterLease lease = new ClusterLease(Connections.direct(db));
    String selfAddress = "pekko://" + SYSTEM_NAME + "@" + self;
    try {
      java.util.Optional<ClusterLease.Held> before = lease.read();
      if (before.isEmpty() || !before.get().freshAt(clock.instant())
          || ClusterLease.judge(before, Set.of(), selfAddress, clock.instant()) == ClusterLease.Verdict.OUR_EARLIER_LIFE) {
        return config;
      }
      Thread.sleep(settings.renewInterval().plusMillis(500).toMillis());
      java.util.Optional<ClusterLease.Held> after = lease.read();
      if (after.isEmpty() || !after.get().freshAt(clock.instant()) || !after.get().renewedAt().isAfter(before.get().renewedAt())) {
        return config;
      }
    } catch (java.sql.SQLException e) {
      log.warn("could not read the cluster lease before joining ({}); joining with the seed nodes as given", e.toString());
      return config;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return config;
    }
    List<String> reordered = new ArrayList<>(seeds.subList(1, seeds.size()));
    reordered.add(self);
    log.info("the cluster of this journal is alive (its lease is being renewed): joining it through {} rather than "
        + "forming a cluster as the first seed node", reordered.subList(0, reordered.size() - 1));
    return ConfigFactory.parseMap(Map.of("reins.cluster.seed-nodes", String.join(",", reordered))).withFallback(config);
  }

  private static Behavior<Void> guardian(
      Config config, HttpSettings http, WorkerSettings workers, RunTokens runTokens, Clock clock,
      CompletableFuture<Bound> bound) {
    return Behaviors.setup(ctx -> {
      ActorSystem<Void> system = ctx.getSystem();
      if (config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
        // no seed nodes configured (tests, ephemeral ports): this node forms its own cluster
        Cluster cluster = Cluster.get(system);
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      ctx.spawn(starter(config, http, workers, runTokens, clock, bound), "node");
      return Behaviors.empty();
    });
  }

  private sealed interface StartStep {}

  private record Up() implements StartStep {}

  private record LeaseJudged(ClusterLease.Verdict verdict, Throwable error) implements StartStep {}

  /**
   * Starts the node once it is an Up cluster member and the journal is not another cluster's:
   * nothing that writes to the journal (sharding with remembered entities starts runs) may start
   * before that check.
   */
  private static Behavior<StartStep> starter(
      Config config, HttpSettings http, WorkerSettings workers, RunTokens runTokens, Clock clock,
      CompletableFuture<Bound> bound) {
    return Behaviors.setup(ctx -> {
      @SuppressWarnings("unchecked")
      ActorSystem<Void> system = (ActorSystem<Void>) (ActorSystem<?>) ctx.getSystem();
      Cluster cluster = Cluster.get(system);
      cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(SelfUp.class, up -> new Up()), SelfUp.class));
      ExecutionContextExecutor blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig("reins.db.blocking-dispatcher"));
      ClusterLease lease = new ClusterLease(Connections.pooled(system));
      LeaseKeeper.Settings leaseSettings = LeaseKeeper.Settings.fromConfig(config);
      return Behaviors.receive(StartStep.class)
          .onMessage(Up.class, up -> {
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> awaitLease(cluster, lease, leaseSettings, clock), blocking),
                LeaseJudged::new);
            return Behaviors.same();
          })
          .onMessage(LeaseJudged.class, judged -> {
            if (judged.error() != null || judged.verdict() == ClusterLease.Verdict.FOREIGN) {
              String why = judged.error() != null
                  ? "could not read the cluster lease in the journal database: " + rootMessage(judged.error())
                  : "another Reins cluster is alive on this journal database (its lease is fresh and names none of this "
                      + "node's cluster members). One journal needs one cluster: give this node the other cluster's seed "
                      + "nodes (REINS_SEED_NODES) or stop the other cluster first.";
              bound.completeExceptionally(new IllegalStateException(why));
              return Behaviors.stopped();
            }
            LeaseKeeper.init(system, lease, leaseSettings, clock, blocking);
            startNode(ctx, system, config, http, workers, runTokens, clock, blocking, lease, bound);
            return Behaviors.same();
          })
          .build();
    });
  }

  /**
   * Judges the journal's lease for this node's cluster. A fresh lease of another cluster may be
   * the last words of a cluster that was just killed: wait up to one ttl for it to lapse.
   */
  private static ClusterLease.Verdict awaitLease(Cluster cluster, ClusterLease lease, LeaseKeeper.Settings settings, Clock clock) {
    try {
      String self = cluster.selfMember().address().toString();
      java.time.Instant giveUp = clock.instant().plus(settings.ttl()).plus(settings.renewInterval());
      boolean told = false;
      while (true) {
        ClusterLease.Verdict v = ClusterLease.judge(lease.read(), LeaseKeeper.members(cluster), self, clock.instant());
        if (v != ClusterLease.Verdict.FOREIGN || clock.instant().isAfter(giveUp)) {
          return v;
        }
        if (!told) {
          log.warn("another cluster's lease on this journal is fresh; waiting up to {} for it to lapse", settings.ttl());
          told = true;
        }
        Thread.sleep(1000);
      }
    } catch (Exception e) {
      throw new CompletionException(e);
    }
  }

  private static void startNode(
      ActorContext<StartStep> ctx, ActorSystem<Void> system, Config config, HttpSettings http, WorkerSettings workers,
      RunTokens runTokens, Clock clock,
      ExecutionContextExecutor blocking, ClusterLease lease, CompletableFuture<Bound> bound) {
    TokenStore tokens = new TokenStore(Connections.pooled(system), clock);
    RunTokens signer = runTokens;
    system.scheduler().scheduleWithFixedDelay(http.signingKeyRefresh(), http.signingKeyRefresh(), () -> {
      try {
        signer.reload();
      } catch (Exception e) {
        log.warn("could not reload the run token signing keys (keeping the ones loaded): {}", e.toString());
      }
    }, blocking);
    JobCredentials credentials = (runId, tenant, attempt, spec) ->
        signer.issue(runId, tenant, attempt, JobCredentials.lifetime(spec));
    ReinsNode node = ReinsNode.start(ctx, config, workers, credentials, clock);
    RunListProjection.init(system, Connections.pooled(system), config.getBoolean("reins.db.create-schema"))
        .whenComplete((done, e) -> {
          if (e != null) {
            log.error("the run list projection did not start (GET /v1/runs will not follow the journal): {}", rootMessage(e));
          }
        });
    RunJournal journal = new RunJournal(system);
    JournalHealth health = JournalHealth.start(system, journal, JournalHealth.Settings.fromConfig(config));
    Runs runs = new Runs(system, journal, http.askTimeout(), health);
    DelegationSettings delegationSettings = DelegationSettings.fromConfig(config);
    DelegationEntity.init(system, new DelegationDrivers(A2aDriver.create(system, clock),
        new ChildRunDriver(runs, node.quota(), java.time.Duration.ofSeconds(node.runSettings().defaults().cancelGraceSeconds()),
            delegationSettings.childRunWatch())),
        delegationSettings, clock);
    NodeStatus status = new NodeStatus();
    openAfterRecovery(system, config, node, runs, status);
    drainOnShutdown(system, config, node, status);
    releaseLeaseWhenLast(system, lease, clock, blocking);
    Authenticator authenticator = new Authenticator(
        tokens, signer, http.adminToken(), blocking, clock, http.tokenCacheTtl(), http.tokenCacheMax(), health);
    EventSettings eventSettings = EventSettings.fromConfig(config);
    EventRoutes events = new EventRoutes(runs, journal, new JournalFeed(system, eventSettings.feedScanPerSlice()), eventSettings);
    List<Endpoint> endpoints =
        endpoints(system, runs, journal, health, node, status, http.askTimeout(), authenticator, tokens, blocking, clock, events);
    Route route = routes(endpoints, http, authenticator, ReinsMetrics.get(system));
    Http.get(system)
        .newServerAt(http.host(), http.port())
        .bind(route)
        .whenComplete((b, e) -> {
          if (e != null) {
            bound.completeExceptionally(e);
          } else {
            bound.complete(new Bound(b.addToCoordinatedShutdown(Duration.ofSeconds(10), system), endpoints, events));
          }
        });
  }

  /** The last node of a cluster to leave lets the lease lapse, so the next start need not wait for it. */
  private static void releaseLeaseWhenLast(ActorSystem<?> system, ClusterLease lease, Clock clock, Executor blocking) {
    Cluster cluster = Cluster.get(system);
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeClusterShutdown(), "reins-release-lease", () -> {
      boolean others = java.util.stream.StreamSupport.stream(cluster.state().getMembers().spliterator(), false)
          .anyMatch(m -> !m.equals(cluster.selfMember()) && m.status() == org.apache.pekko.cluster.MemberStatus.up());
      if (others) {
        return CompletableFuture.completedFuture(Done.getInstance());
      }
      Set<String> members = LeaseKeeper.members(cluster);
      String self = cluster.selfMember().address().toString();
      return CompletableFuture.supplyAsync(() -> {
        try {
          lease.release(members, self, clock.instant());
        } catch (Exception e) {
          log.warn("could not release the cluster lease (the next start waits for it to lapse): {}", e.toString());
        }
        return Done.getInstance();
      }, blocking);
    });
  }

  /**
   * The worker slots open once the runs of this node's earlier life are resolved and the runs it
   * queued have had {@code reins.startup.settle} to ask again; then the node reports ready.
   */
  private static void openAfterRecovery(ActorSystem<?> system, Config config, ReinsNode node, Runs runs, NodeStatus status) {
    Duration settle = config.getDuration("reins.startup.settle");
    NodeRecovery.awaitResolved(system, runs, node.orphans(), config.getDuration("reins.startup.recovery-timeout"))
        .thenCompose(done -> delay(system, settle))
        .whenComplete((done, e) -> {
          node.pool().tell(new WorkerPool.Open());
          status.recovered();
        });
  }

  /**
   * SIGTERM (or {@link #close}): readiness answers 503 at once; after {@code unready-delay} the
   * listener closes (Pekko HTTP answers what is in flight); then the pool drains (running attempts
   * get {@code drain-seconds} to finish, then are stopped as interrupted by the shutdown, which
   * their runs record); only then does sharding hand this node's runs to the others.
   */
  private static void drainOnShutdown(ActorSystem<?> system, Config config, ReinsNode node, NodeStatus status) {
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
    Duration unreadyDelay = config.getDuration("reins.shutdown.unready-delay");
    Duration drain = Duration.ofSeconds(config.getInt("reins.shutdown.drain-seconds"));
    Duration stopCap = config.getDuration("reins.shutdown.stop-grace-cap");
    shutdown.addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "reins-unready", () -> {
      status.draining();
      if (downed(shutdown)) {
        // A downed node's runs are the others' now: they start their next attempts after
        // lost-worker-delay, so its processes go at once, before anything else of the shutdown
        // (the HTTP listener may wait for requests in flight) and without a drain.
        log.warn("this node was downed by the cluster: killing its running attempts at once (no drain)");
        return stopWorkers(system, node, Instant.now(), true, stopCap);
      }
      return delay(system, unreadyDelay);
    });
    shutdown.addTask(CoordinatedShutdown.PhaseServiceStop(), "reins-drain-workers", () ->
        stopWorkers(system, node, Instant.now().plus(drain), false, drain.plus(stopCap)));
  }

  private static CompletionStage<Done> stopWorkers(ActorSystem<?> system, ReinsNode node, Instant deadline, boolean kill, Duration timeout) {
    return AskPattern.<WorkerPool.Command, WorkerPool.Drained>ask(node.pool(),
            r -> new WorkerPool.Drain(deadline, kill, r), timeout, system.scheduler())
        .handle((drained, e) -> {
          if (e != null) {
            log.warn("the workers did not drain in time; stopping the rest with the node: {}", e.toString());
          } else if (drained.stopped() > 0) {
            log.info("{} {} attempt(s) that were still running", kill ? "killed" : "drained: stopped", drained.stopped());
          }
          return Done.getInstance();
        });
  }

  /** The shutdown follows this node's downing (split-brain resolver), not a SIGTERM or close. */
  private static boolean downed(CoordinatedShutdown shutdown) {
    return shutdown.getShutdownReason().map(CoordinatedShutdown.clusterDowningReason()::equals).orElse(false);
  }

  private static CompletionStage<Done> delay(ActorSystem<?> system, Duration d) {
    CompletableFuture<Done> done = new CompletableFuture<>();
    system.scheduler().scheduleOnce(d, () -> done.complete(Done.getInstance()), system.executionContext());
    return done;
  }

  /** Every endpoint of the API, in one table (see {@link Endpoint}). */
  static List<Endpoint> endpoints(
      ActorSystem<?> system, Runs runs, RunJournal journal, JournalHealth health, ReinsNode node, NodeStatus status,
      Duration askTimeout, Authenticator authenticator, TokenStore tokens, Executor blocking, Clock clock, EventRoutes events) {
    List<Endpoint> all = new ArrayList<>();
    all.addAll(new RunRoutes(runs, node.quota(), journal, node.runSettings().defaults(), node.logs(), askTimeout,
        system.scheduler()).endpoints());
    all.addAll(new DelegationRoutes(system, runs,
        new CreateDelegationRequest.Defaults(DelegationSettings.fromConfig(system.settings().config()).defaultTimeout().toSeconds(),
            node.runSettings().defaults()),
        new A2aAllowlist(system.settings().config().getString("reins.delegations.a2a.allowed-urls")), askTimeout).endpoints());
    all.addAll(new RunListRoutes(system, Connections.pooled(system), blocking, clock).endpoints());
    all.addAll(events.endpoints());
    all.addAll(new AdminRoutes(tokens, authenticator, blocking, clock).endpoints());
    all.addAll(new ClusterRoutes(system, node.pool(), askTimeout).endpoints());
    all.addAll(new HealthRoutes(system, health, status).endpoints());
    all.addAll(new OpenApiRoutes().endpoints());
    all.addAll(new MetricsRoutes(ReinsMetrics.get(system), Connections.pooled(system), blocking, clock).endpoints());
    return all;
  }

  static Route routes(List<Endpoint> endpoints, HttpSettings http, Authenticator authenticator, ReinsMetrics metrics) {
    ApiRouter router = new ApiRouter(endpoints, authenticator, http, metrics);
    AllDirectives d = new AllDirectives() {};
    // Pekko's own answer to a request past pekko.http.server.request-timeout is a text/plain 503:
    // every error of the API is a problem (and the OpenAPI description says so)
    return d.withRequestTimeoutResponse(request -> Problem.of(503, "unavailable", "Service unavailable",
            "the server did not answer in time; the request may still take effect: read before repeating it").toResponse()
            .addHeader(Problems.retryAfter(http.retryAfter())), () ->
        d.handleExceptions(Problems.exceptionHandler(http.retryAfter()), () ->
            d.handleRejections(Problems.rejectionHandler(), () ->
                d.withSizeLimit(http.maxBody(), router::route))));
  }

  public InetSocketAddress address() {
    return binding.localAddress();
  }

  /**
   * The endpoint table this server serves (method, path, access; the handlers are bound to this
   * server). The authorization tests iterate over it, so that no route escapes them.
   */
  List<Endpoint> endpoints() {
    return endpoints;
  }

  /** The live event streams this server cut off because their clients stopped reading. */
  long slowStreamClientsCut() {
    return events.slowClientsCut();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  @Override
  public void close() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("actor system did not terminate in time: {}", e.toString());
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
