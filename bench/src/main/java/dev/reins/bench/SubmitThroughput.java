package dev.reins.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;

/**
 * Closed-loop submit throughput: {@code --clients} threads each send {@code POST /v1/runs} back to
 * back (a new request as soon as the previous answer arrives) for {@code --warmup} and then for
 * {@code --duration}. Only requests that complete inside the measurement window count, both for
 * the rate and for the latency histogram. Any answer other than 2xx, and any I/O failure, is an
 * error and is reported.
 *
 * <p>The submitted command defaults to {@code ["sleep","3600"]} with a one-day timeout: the server
 * starts at most its worker slots of them and queues the rest, so the benchmark measures accepting
 * and journaling submissions, not process spawning. Every run carries {@code REINS_BENCH_TAG} in
 * its environment so that the driver script can find and kill what is left afterwards.
 *
 * <p>Prints human-readable lines and, last, one JSON line starting with {@code {"benchmark":}.
 */
public final class SubmitThroughput {

  private static final String[][] OPTIONS = {
    {"url", "http://127.0.0.1:8080", "base URL of the server"},
    {"clients", "32", "concurrent clients (threads), each with one request in flight"},
    {"client", "jdk", "jdk: java.net.http.HttpClient; socket: a minimal blocking HTTP/1.1 keep-alive client (far less CPU)"},
    {"http-clients", "0", "with --client jdk: HttpClient instances shared round-robin by the threads; 0 = one per thread"},
    {"server-pid", "0", "pid of the server JVM, to report its CPU use during the measured window (0: do not)"},
    {"warmup", "10s", "warm-up duration (not measured)"},
    {"duration", "30s", "measured duration"},
    {"command", "[\"sleep\",\"3600\"]", "argv of the submitted runs, as a JSON array"},
    {"timeout-seconds", "86400", "timeoutSeconds of the submitted runs"},
    {"cancel-grace-seconds", "10", "cancelGraceSeconds of the submitted runs"},
    {"tag", "", "value of REINS_BENCH_TAG in the runs' environment (empty: none)"},
    {"request-timeout", "30s", "per-request timeout"},
    {"max-error-samples", "10", "how many error answers to print in full"},
  };

  private SubmitThroughput() {}

  public static void main(String[] argv) throws Exception {
    BenchSupport.Args args = new BenchSupport.Args("SubmitThroughput", argv, OPTIONS);
    String base = BenchSupport.stripSlash(args.str("url"));
    int clients = args.integer("clients");
    int httpClients = args.integer("http-clients");
    Duration warmup = args.duration("warmup");
    Duration duration = args.duration("duration");
    Duration requestTimeout = args.duration("request-timeout");
    int maxSamples = args.integer("max-error-samples");
    String tag = args.str("tag");
    if (clients < 1 || duration.isZero() || duration.isNegative()) {
      System.err.println("error: --clients must be >= 1 and --duration > 0");
      System.exit(2);
    }
    byte[] body =
        BenchSupport.submitBody(
            args.stringList("command"),
            tag.isEmpty() ? Map.of() : Map.of("REINS_BENCH_TAG", tag),
            args.lng("timeout-seconds"),
            args.lng("cancel-grace-seconds"),
            Map.of("bench", "submit-throughput"));

    String clientKind = args.str("client");
    if (!clientKind.equals("jdk") && !clientKind.equals("socket")) {
      System.err.println("error: --client must be jdk or socket");
      System.exit(2);
    }
    long serverPid = args.lng("server-pid");
    int nHttp = clientKind.equals("socket") ? 0 : httpClients <= 0 ? clients : Math.min(httpClients, clients);
    List<HttpClient> pool = new ArrayList<>();
    pool.add(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build());
    for (int i = 1; i < nHttp; i++) {
      pool.add(
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .connectTimeout(Duration.ofSeconds(5))
              .build());
    }

    checkReady(pool.get(0), base);

    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base + "/v1/runs"))
            .timeout(requestTimeout)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();

    long startNanos = System.nanoTime();
    long measureStart = startNanos + warmup.toNanos();
    long measureEnd = measureStart + duration.toNanos();
    Shared shared = new Shared(measureStart, measureEnd, maxSamples);

    System.out.printf(
        Locale.ROOT,
        "submit-throughput: %s/v1/runs, %d closed-loop clients (%s), warm-up %s, measured %s%n",
        base, clients,
        clientKind.equals("socket") ? "raw-socket HTTP/1.1 keep-alive client" : nHttp + " java.net.http.HttpClient instance(s), HTTP/1.1",
        human(warmup), human(duration));
    System.out.println("  body: " + new String(body, java.nio.charset.StandardCharsets.UTF_8));

    List<Client> workers = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      Transport transport =
          clientKind.equals("socket")
              ? new SocketTransport(URI.create(base + "/v1/runs"), body, requestTimeout)
              : new JdkTransport(pool.get(i % nHttp), request);
      Client c = new Client(transport, shared);
      workers.add(c);
      Thread t = new Thread(c, "submit-client-" + i);
      t.setDaemon(true);
      threads.add(t);
    }
    Instant wallStart = Instant.now();
    threads.forEach(Thread::start);

    // progress, once a second on stderr; CPU samples at the start and end of the window
    long lastCount = 0;
    long lastAt = System.nanoTime();
    CpuSample cpuStart = null;
    while (System.nanoTime() < measureEnd) {
      long untilNext = Math.min(1000, Math.max(1, (measureEnd - System.nanoTime()) / 1_000_000));
      if (cpuStart == null) {
        untilNext = Math.min(untilNext, Math.max(1, (measureStart - System.nanoTime()) / 1_000_000));
      }
      Thread.sleep(untilNext);
      if (cpuStart == null && System.nanoTime() >= measureStart) {
        cpuStart = CpuSample.take(serverPid);
      }
      long now = System.nanoTime();
      long count = shared.completed.sum();
      System.err.printf(
          Locale.ROOT,
          "  [%5.1fs %s] %7.0f submits/s, errors so far %d%n",
          (now - startNanos) / 1e9,
          now < measureStart ? "warm-up " : "measured",
          (count - lastCount) * 1e9 / Math.max(1, now - lastAt),
          shared.errorsTotal.sum());
      lastCount = count;
      lastAt = now;
    }
    CpuSample cpuEnd = CpuSample.take(serverPid);
    if (cpuStart == null) {
      cpuStart = cpuEnd;
    }
    shared.stop = true;
    for (Thread t : threads) {
      t.join(requestTimeout.toMillis() + 5000);
    }

    Histogram latency = BenchSupport.micros();
    long ok = 0;
    long errors = 0;
    for (Client c : workers) {
      latency.add(c.latency);
      ok += c.okMeasured;
      errors += c.errorsMeasured;
    }
    double seconds = duration.toNanos() / 1e9;
    double rate = ok / seconds;

    System.out.printf(Locale.ROOT, "  successful submits in the measured window: %d in %.1f s%n", ok, seconds);
    System.out.printf(Locale.ROOT, "  throughput: %.1f submits/s%n", rate);
    System.out.println("  " + BenchSupport.humanSummary("submit latency", latency));
    System.out.printf(
        Locale.ROOT,
        "  errors: %d in the measured window, %d in total (incl. warm-up); accepted in total: %d%n",
        errors, shared.errorsTotal.sum(), shared.okTotal.sum());
    double window = Math.max(1e-9, (cpuEnd.at - cpuStart.at) / 1e9);
    double clientCores = (cpuEnd.clientCpuNanos - cpuStart.clientCpuNanos) / 1e9 / window;
    double serverCores = serverPid > 0 && cpuStart.serverTicks >= 0 && cpuEnd.serverTicks >= 0
        ? (cpuEnd.serverTicks - cpuStart.serverTicks) / (double) CpuSample.TICKS_PER_SECOND / window
        : -1;
    double machineBusyCores = cpuEnd.machineTotal > cpuStart.machineTotal
        ? (double) (cpuEnd.machineBusy - cpuStart.machineBusy) / (cpuEnd.machineTotal - cpuStart.machineTotal)
            * Runtime.getRuntime().availableProcessors()
        : -1;
    System.out.printf(
        Locale.ROOT,
        "  CPU in the measured window (cores busy, of %d): machine %.2f, this client %.2f, server %s%n",
        Runtime.getRuntime().availableProcessors(), machineBusyCores, clientCores,
        serverCores < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", serverCores));
    Map<String, Long> byKind = new TreeMap<>();
    shared.errorKinds.forEach((k, v) -> byKind.put(k, v.sum()));
    byKind.forEach((k, v) -> System.out.printf(Locale.ROOT, "    %-40s %d%n", k, v));
    for (String s : shared.samples) {
      System.out.println("    sample: " + s);
    }

    ObjectNode out = BenchSupport.JSON.createObjectNode();
    out.put("benchmark", "submit_throughput");
    out.put("started_at", wallStart.toString());
    out.put("url", base);
    out.put("clients", clients);
    out.put("client", clientKind);
    out.put("http_clients", nHttp);
    out.put("warmup_s", warmup.toMillis() / 1000.0);
    out.put("duration_s", seconds);
    out.put("submits", ok);
    out.put("submits_per_s", BenchSupport.round3(rate));
    out.put("errors", errors);
    out.put("errors_total", shared.errorsTotal.sum());
    out.put("accepted_total", shared.okTotal.sum());
    ObjectNode kinds = out.putObject("errors_by_kind");
    byKind.forEach(kinds::put);
    out.set("latency", BenchSupport.summary(latency));
    ObjectNode cpu = out.putObject("cpu_cores");
    cpu.put("available", Runtime.getRuntime().availableProcessors());
    cpu.put("machine", BenchSupport.round3(machineBusyCores));
    cpu.put("client", BenchSupport.round3(clientCores));
    if (serverCores >= 0) {
      cpu.put("server", BenchSupport.round3(serverCores));
    }
    out.set("options", args.toJson());
    System.out.println(BenchSupport.JSON.writeValueAsString(out));
    System.exit(0);
  }

  static void checkReady(HttpClient client, String base) {
    try {
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(URI.create(base + "/v1/health/ready")).timeout(Duration.ofSeconds(10)).GET().build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        System.err.println("error: " + base + "/v1/health/ready answered " + r.statusCode() + ": " + BenchSupport.abbreviate(r.body(), 300));
        System.exit(1);
      }
    } catch (IOException e) {
      System.err.println("error: cannot reach " + base + "/v1/health/ready: " + e);
      System.exit(1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      System.exit(1);
    }
  }

  private static String human(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }

  /** State all clients share: the window, the stop flag and the error log. */
  static final class Shared {
    final long measureStart;
    final long measureEnd;
    final int maxSamples;
    volatile boolean stop;
    final LongAdder completed = new LongAdder();
    final LongAdder okTotal = new LongAdder();
    final LongAdder errorsTotal = new LongAdder();
    final Map<String, LongAdder> errorKinds = new ConcurrentHashMap<>();
    final List<String> samples = new ArrayList<>();

    Shared(long measureStart, long measureEnd, int maxSamples) {
      this.measureStart = measureStart;
      this.measureEnd = measureEnd;
      this.maxSamples = maxSamples;
    }

    void error(String kind, String detail) {
      errorsTotal.increment();
      errorKinds.computeIfAbsent(kind, k -> new LongAdder()).increment();
      synchronized (samples) {
        if (samples.size() < maxSamples) {
          samples.add(kind + ": " + detail);
          System.err.println("  error: " + kind + ": " + detail);
        }
      }
    }
  }

  /** One closed-loop client. */
  static final class Client implements Runnable {
    final Transport transport;
    final Shared shared;
    final Histogram latency = BenchSupport.micros();
    long okMeasured;
    long errorsMeasured;

    Client(Transport transport, Shared shared) {
      this.transport = transport;
      this.shared = shared;
    }

    @Override
    public void run() {
      while (!shared.stop) {
        long start = System.nanoTime();
        if (start >= shared.measureEnd) {
          return;
        }
        boolean ok;
        try {
          int code = transport.send();
          ok = code >= 200 && code < 300;
          if (!ok) {
            shared.error("HTTP " + code, BenchSupport.abbreviate(transport.lastBody(), 300));
          }
        } catch (IOException e) {
          ok = false;
          shared.error("I/O " + e.getClass().getSimpleName(), String.valueOf(e.getMessage()));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        long end = System.nanoTime();
        shared.completed.increment();
        if (ok) {
          shared.okTotal.increment();
        }
        if (end >= shared.measureStart && end < shared.measureEnd) {
          if (ok) {
            okMeasured++;
            BenchSupport.recordMicros(latency, end - start);
          } else {
            errorsMeasured++;
          }
        }
        if (!ok) {
          transport.reset();
          // do not spin on a server that refuses connections
          try {
            Thread.sleep(10);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }

  /** One connection's worth of request/response. */
  interface Transport {
    /** Sends the submit request and returns the status code. */
    int send() throws IOException, InterruptedException;

    /** The body of the last answer (for error reports). */
    String lastBody();

    /** Forget the connection after an error. */
    default void reset() {}
  }

  static final class JdkTransport implements Transport {
    private final HttpClient http;
    private final HttpRequest request;
    private String body = "";

    JdkTransport(HttpClient http, HttpRequest request) {
      this.http = http;
      this.request = request;
    }

    @Override
    public int send() throws IOException, InterruptedException {
      HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
      body = r.body();
      return r.statusCode();
    }

    @Override
    public String lastBody() {
      return body;
    }
  }

  /**
   * A minimal HTTP/1.1 client over one blocking keep-alive socket: writes the precomputed request
   * in one write and reads the status line, the headers and a Content-Length or chunked body.
   */
  static final class SocketTransport implements Transport {
    private final String host;
    private final int port;
    private final byte[] request;
    private final int timeoutMillis;
    private java.net.Socket socket;
    private java.io.BufferedInputStream in;
    private java.io.OutputStream out;
    private byte[] body = new byte[0];
    private boolean closeAfter;

    SocketTransport(URI uri, byte[] payload, Duration timeout) {
      this.host = uri.getHost();
      this.port = uri.getPort() < 0 ? 80 : uri.getPort();
      this.timeoutMillis = (int) timeout.toMillis();
      String path = uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
      String head =
          "POST " + path + " HTTP/1.1\r\n"
              + "Host: " + host + ":" + port + "\r\n"
              + "Content-Type: application/json\r\n"
              + "Content-Length: " + payload.length + "\r\n"
              + "\r\n";
      byte[] h = head.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      request = new byte[h.length + payload.length];
      System.arraycopy(h, 0, request, 0, h.length);
      System.arraycopy(payload, 0, request, h.length, payload.length);
    }

    @Override
    public int send() throws IOException {
      if (socket == null) {
        socket = new java.net.Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new java.net.InetSocketAddress(host, port), 5000);
        socket.setSoTimeout(timeoutMillis);
        in = new java.io.BufferedInputStream(socket.getInputStream(), 16384);
        out = socket.getOutputStream();
      }
      try {
        out.write(request);
        out.flush();
        int status = readResponse();
        if (closeAfter) {
          reset();
        }
        return status;
      } catch (IOException e) {
        reset();
        throw e;
      }
    }

    private int readResponse() throws IOException {
      String statusLine = line();
      if (!statusLine.startsWith("HTTP/1.")) {
        throw new IOException("not an HTTP/1.x status line: " + BenchSupport.abbreviate(statusLine, 100));
      }
      int status = Integer.parseInt(statusLine.substring(9, 12));
      long length = -1;
      boolean chunked = false;
      closeAfter = statusLine.startsWith("HTTP/1.0");
      for (String h = line(); !h.isEmpty(); h = line()) {
        int colon = h.indexOf(':');
        if (colon < 0) {
          continue;
        }
        String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = h.substring(colon + 1).trim();
        if (name.equals("content-length")) {
          length = Long.parseLong(value);
        } else if (name.equals("transfer-encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
          chunked = true;
        } else if (name.equals("connection")) {
          closeAfter = value.equalsIgnoreCase("close");
        }
      }
      java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
      if (chunked) {
        while (true) {
          String size = line();
          int semi = size.indexOf(';');
          long n = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
          if (n == 0) {
            while (!line().isEmpty()) {
              // trailers
            }
            break;
          }
          b.write(in.readNBytes((int) n));
          line();
        }
      } else if (length >= 0) {
        byte[] data = in.readNBytes((int) length);
        if (data.length < length) {
          throw new IOException("connection closed in the middle of a body");
        }
        b.write(data);
      } else {
        b.write(in.readAllBytes());
        closeAfter = true;
      }
      body = b.toByteArray();
      return status;
    }

    private String line() throws IOException {
      StringBuilder sb = new StringBuilder(64);
      while (true) {
        int c = in.read();
        if (c < 0) {
          throw new IOException("connection closed by the server");
        }
        if (c == '\n') {
          int n = sb.length();
          return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
        }
        sb.append((char) c);
      }
    }

    @Override
    public String lastBody() {
      return new String(body, java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public void reset() {
      if (socket != null) {
        try {
          socket.close();
        } catch (IOException e) {
          // already broken
        }
      }
      socket = null;
    }
  }

  /** CPU counters: this JVM, the server process (clock ticks) and the whole machine (/proc/stat). */
  static final class CpuSample {
    static final long TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture Java runs on
    final long at = System.nanoTime();
    long clientCpuNanos;
    long serverTicks = -1;
    long machineBusy;
    long machineTotal;

    static CpuSample take(long serverPid) {
      CpuSample c = new CpuSample();
      java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
      if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
        c.clientCpuNanos = sun.getProcessCpuTime();
      }
      if (serverPid > 0) {
        try {
          String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + serverPid + "/stat"));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
          c.serverTicks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
        } catch (IOException | RuntimeException e) {
          c.serverTicks = -1;
        }
      }
      try {
        String first = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/stat")).get(0);
        String[] f = first.trim().split("\\s+");
        long total = 0;
        for (int i = 1; i < f.length && i <= 8; i++) {
          total += Long.parseLong(f[i]);
        }
        long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]); // idle + iowait
        c.machineTotal = total;
        c.machineBusy = total - idle;
      } catch (IOException | RuntimeException e) {
        c.machineTotal = 0;
      }
      return c;
    }
  }
}
