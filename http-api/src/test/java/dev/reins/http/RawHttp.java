package dev.reins.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket, byte for byte as given: for the requests the JDK client refuses
 * to send (a {@code Host} or {@code Content-Length} of our choosing, methods such as {@code
 * CONNECT}, bytes outside ASCII in the request line or in header values).
 */
final class RawHttp {
  private RawHttp() {}

  /** One response read back; {@code body} is empty for HEAD and bodiless statuses. */
  record Response(int status, Map<String, List<String>> headers, byte[] body) {
    String header(String name) {
      List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
      return values == null || values.isEmpty() ? null : values.get(0);
    }

    String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /**
   * One request with the headers given (and {@code Connection: close}, and a {@code Content-Length}
   * for a body), answered by one response: for a {@code Host} of our choosing.
   */
  static Response send(int port, String method, String target, Map<String, String> headers, String body) throws IOException {
    StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n");
    headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
    byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    if (body != null) {
      head.append("Content-Type: application/json\r\nContent-Length: ").append(bytes.length).append("\r\n");
    }
    head.append("Connection: close\r\n\r\n");
    ByteArrayOutputStream request = new ByteArrayOutputStream();
    request.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
    request.writeBytes(bytes);
    List<Response> answers = exchange(port, request.toByteArray(), method, false, Duration.ofSeconds(30));
    if (answers.isEmpty()) {
      throw new IOException("no answer to " + method + " " + target);
    }
    return answers.get(0);
  }

  /**
   * Writes {@code request} (which should ask for {@code Connection: close}), optionally closes our
   * side for writing (so a server waiting for more body sees the end), and reads every response
   * until the server closes the connection or {@code timeout} passes without a byte.
   */
  static List<Response> exchange(int port, byte[] request, String method, boolean halfClose, Duration timeout)
      throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      socket.setSoTimeout((int) timeout.toMillis());
      OutputStream out = socket.getOutputStream();
      try {
        out.write(request);
        out.flush();
        if (halfClose) {
          socket.shutdownOutput();
        }
      } catch (IOException e) {
        // the server may close early (it answered a bad request before reading all of it): read on
      }
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          received.write(buffer, 0, n);
        }
      } catch (SocketTimeoutException | SocketException e) {
        // a server that keeps the connection open (or resets it) after answering: parse what came
      }
      return parse(received.toByteArray(), method);
    }
  }

  static List<Response> parse(byte[] data, String method) {
    List<Response> responses = new ArrayList<>();
    int pos = 0;
    while (pos < data.length) {
      int end = indexOf(data, pos, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      if (end < 0) {
        break;
      }
      String head = new String(data, pos, end - pos, StandardCharsets.ISO_8859_1);
      String[] lines = head.split("\r\n");
      String[] statusLine = lines[0].split(" ", 3);
      if (statusLine.length < 2 || !statusLine[0].startsWith("HTTP/")) {
        throw new IllegalStateException("not an HTTP response: " + head.substring(0, Math.min(head.length(), 200)));
      }
      int status = Integer.parseInt(statusLine[1]);
      Map<String, List<String>> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon > 0) {
          headers.computeIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
              .add(lines[i].substring(colon + 1).trim());
        }
      }
      pos = end + 4;
      byte[] body = new byte[0];
      boolean bodiless = method.equals("HEAD") || status == 204 || status == 304 || status / 100 == 1;
      if (!bodiless) {
        List<String> length = headers.get("content-length");
        List<String> encoding = headers.get("transfer-encoding");
        if (length != null) {
          int n = Math.min(Integer.parseInt(length.get(0)), data.length - pos);
          body = Arrays.copyOfRange(data, pos, pos + n);
          pos += n;
        } else if (encoding != null && encoding.get(0).equalsIgnoreCase("chunked")) {
          ByteArrayOutputStream chunks = new ByteArrayOutputStream();
          while (pos < data.length) {
            int lineEnd = indexOf(data, pos, "\r\n".getBytes(StandardCharsets.US_ASCII));
            if (lineEnd < 0) {
              break;
            }
            int size = Integer.parseInt(new String(data, pos, lineEnd - pos, StandardCharsets.US_ASCII).split(";")[0].trim(), 16);
            pos = lineEnd + 2;
            if (size == 0) {
              int trailerEnd = indexOf(data, pos, "\r\n".getBytes(StandardCharsets.US_ASCII));
              pos = trailerEnd < 0 ? data.length : trailerEnd + 2;
              break;
            }
            chunks.write(data, pos, Math.min(size, data.length - pos));
            pos += size + 2;
          }
          body = chunks.toByteArray();
        } else {
          body = Arrays.copyOfRange(data, pos, data.length);
          pos = data.length;
        }
      }
      responses.add(new Response(status, headers, body));
    }
    return responses;
  }

  private static int indexOf(byte[] data, int from, byte[] needle) {
    outer:
    for (int i = from; i <= data.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (data[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
