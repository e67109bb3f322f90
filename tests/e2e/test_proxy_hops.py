"""The proxy is chosen for every hop of a redirect chain, not once for its first URL."""

from support.faultserver import FaultServer, Reply, make_pdf

OUTSIDE = "http://papers-proxy-test.invalid"  # reachable only through the proxy


def test_a_redirect_from_a_no_proxy_host_to_an_outside_host_goes_through_the_proxy(
        server, papers, env, tmp_path):
    body = make_pdf(3000, 1)
    with FaultServer() as proxy:
        proxy.pdf(f"{OUTSIDE}/p.pdf", body)  # as a proxy, it sees the absolute URL
        start = server.route("/go", Reply(status=302, location=f"{OUTSIDE}/p.pdf"))
        env["HTTP_PROXY"] = env["http_proxy"] = proxy.url("")
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
        r = papers("download", "-o", str(tmp_path / "o"), "--json", start)
        assert r.code == 0, r.stderr
        assert open(r.lines[0]["path"], "rb").read() == body
        assert proxy.hits(f"{OUTSIDE}/p.pdf") == 1
        assert server.hits("/go") == 1 and not proxy.hits(start)  # the first hop was direct


def test_a_redirect_from_a_proxied_host_to_a_no_proxy_host_goes_direct(server, papers, env,
                                                                      tmp_path):
    body = make_pdf(3000, 2)
    direct = server.pdf("/direct.pdf", body)
    with FaultServer() as proxy:
        proxy.route(f"{OUTSIDE}/r", Reply(status=302, location=direct))
        env["HTTP_PROXY"] = env["http_proxy"] = proxy.url("")
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
        r = papers("download", "-o", str(tmp_path / "o"), "--json", f"{OUTSIDE}/r")
        assert r.code == 0, r.stderr
        assert open(r.lines[0]["path"], "rb").read() == body
        assert proxy.hits(f"{OUTSIDE}/r") == 1 and not proxy.hits(direct)
        assert server.hits("/direct.pdf") == 1


def test_a_failed_hop_names_its_own_host(server, papers, env, tmp_path):
    # The second hop's host is behind a dead proxy: the error is about that hop.
    start = server.route("/away", Reply(status=302, location=f"{OUTSIDE}/gone.pdf"))
    env["HTTP_PROXY"] = env["http_proxy"] = "http://127.0.0.1:9"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "--max-retries", "0", start)
    assert r.code == 1
    assert "proxy http://127.0.0.1:9" in r.lines[0]["error"], r.lines[0]
