//! The etcd state store against a real etcd on loopback: revision-checked
//! writes, an unusable value kept aside, and the leader election with its
//! fencing.
#![cfg(feature = "etcd")]

use std::time::{Duration, Instant};

use crate::kit::{self, etcd};

use placer_cli::{
    load_json, save_json, EtcdStore, Leadership, Restored, Role, StateItem, StateKey, StateStore,
    StoreError, StoreSettings,
};

fn settings(etcd: &etcd::Etcd, prefix: &str, identity: &str) -> StoreSettings {
    StoreSettings {
        url: etcd.url(prefix).parse().unwrap(),
        url_from: "test".into(),
        username: None,
        password: None,
        ca_file: None,
        cert_file: None,
        key_file: None,
        tls: false,
        lease_ttl: Duration::from_secs(3),
        identity: identity.into(),
        timeout: Duration::from_secs(2),
    }
}

fn key() -> StateKey {
    StateKey::new("shop", StateItem::EngineState)
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no {what} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[ignore = "needs etcd"]
#[tokio::test]
async fn a_writer_that_missed_a_newer_write_is_refused() {
    let etcd = etcd::Etcd::start();
    let a = EtcdStore::connect(&settings(&etcd, "stale", "a"))
        .await
        .unwrap();
    let b = EtcdStore::connect(&settings(&etcd, "stale", "b"))
        .await
        .unwrap();
    assert!(matches!(
        load_json::<u32>(&a, &key()).await.unwrap(),
        Restored::Missing
    ));
    assert!(matches!(
        load_json::<u32>(&b, &key()).await.unwrap(),
        Restored::Missing
    ));
    save_json(&a, &key(), &1).await.unwrap();
    save_json(&a, &key(), &2).await.unwrap();

    // b read before a's writes: its write would overwrite them.
    let err = save_json(&b, &key(), &10).await.unwrap_err();
    assert!(matches!(err, StoreError::Stale { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("etcd key /stale/apps/shop/engine_state was changed by another placer"),
        "{err}"
    );
    // Once it has read the newer state, it may write.
    assert!(matches!(
        load_json::<u32>(&b, &key()).await.unwrap(),
        Restored::Loaded(2)
    ));
    save_json(&b, &key(), &3).await.unwrap();
    assert!(matches!(
        save_json(&a, &key(), &4).await.unwrap_err(),
        StoreError::Stale { .. }
    ));
    assert!(matches!(
        load_json::<u32>(&a, &key()).await.unwrap(),
        Restored::Loaded(3)
    ));

    // Apps are kept apart.
    let other = StateKey::new("blog", StateItem::EngineState);
    assert!(matches!(
        load_json::<u32>(&a, &other).await.unwrap(),
        Restored::Missing
    ));
}

#[ignore = "needs etcd"]
#[tokio::test]
async fn an_unreadable_value_is_kept_aside_and_the_app_starts_afresh() {
    let etcd = etcd::Etcd::start();
    let store = EtcdStore::connect(&settings(&etcd, "corrupt", "a"))
        .await
        .unwrap();
    store.load(&key()).await.unwrap();
    store.save(&key(), b"{ not json").await.unwrap();
    let Restored::MovedAside { problem, moved_to } =
        load_json::<u32>(&store, &key()).await.unwrap()
    else {
        panic!("expected the value to be moved aside");
    };
    assert!(problem.contains("is not valid"), "{problem}");
    assert!(
        moved_to.starts_with("etcd key /corrupt/apps/shop/engine_state.corrupt-"),
        "{moved_to}"
    );
    let aside = moved_to.trim_start_matches("etcd key ");
    assert_eq!(etcd.get(aside).as_deref(), Some(&b"{ not json"[..]));
    assert!(matches!(
        load_json::<u32>(&store, &key()).await.unwrap(),
        Restored::Missing
    ));
    save_json(&store, &key(), &5).await.unwrap();
}

async fn wait_for_leader(placers: &[&Leadership]) -> usize {
    let started = Instant::now();
    loop {
        let leaders: Vec<usize> = placers
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l.role(), Role::Leader { .. }))
            .map(|(i, _)| i)
            .collect();
        if leaders.len() == 1 {
            return leaders[0];
        }
        assert!(leaders.len() < 2, "two leaders at once");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no leader within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[ignore = "needs etcd"]
#[tokio::test]
async fn one_leader_writes_and_a_successor_fences_the_old_one_out() {
    let etcd = etcd::Etcd::start();
    let stores = [
        EtcdStore::connect(&settings(&etcd, "elect", "placer-a"))
            .await
            .unwrap(),
        EtcdStore::connect(&settings(&etcd, "elect", "placer-b"))
            .await
            .unwrap(),
    ];
    let leaderships = [
        stores[0].join_election(&settings(&etcd, "elect", "placer-a")),
        stores[1].join_election(&settings(&etcd, "elect", "placer-b")),
    ];
    let first = wait_for_leader(&[&leaderships[0], &leaderships[1]]).await;
    let second = 1 - first;
    let first_name = ["placer-a", "placer-b"][first];
    wait_for("the follower to learn the leader", || {
        leaderships[second].role()
            == Role::Follower {
                leader: Some(first_name.into()),
            }
    })
    .await;

    for store in &stores {
        store.load(&key()).await.unwrap();
    }
    leaderships[first].confirm().await.unwrap();
    save_json(&stores[first], &key(), &1).await.unwrap();
    let refused = save_json(&stores[second], &key(), &2).await.unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    assert!(refused.to_string().contains(first_name), "{refused}");
    let not_leader = leaderships[second].confirm().await.unwrap_err();
    assert_eq!(not_leader.leader.as_deref(), Some(first_name));

    // The leader goes; the other takes over and the old one cannot write.
    leaderships[first].resign().await;
    wait_for("the successor", || {
        matches!(leaderships[second].role(), Role::Leader { .. })
    })
    .await;
    stores[second].load(&key()).await.unwrap();
    save_json(&stores[second], &key(), &3).await.unwrap();
    assert!(leaderships[first].confirm().await.is_err());
    let refused = save_json(&stores[first], &key(), &4).await.unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    assert!(matches!(
        load_json::<u32>(&stores[first], &key()).await.unwrap(),
        Restored::Loaded(3)
    ));
}

#[ignore = "needs etcd"]
#[tokio::test]
async fn a_cluster_with_authentication_takes_the_user_and_password_and_never_shows_it() {
    let etcd = etcd::Etcd::start();
    etcd.enable_auth("root-password-1");

    let with = |user: Option<&str>, password: Option<&str>| {
        let mut s = settings(&etcd, "auth", "a");
        s.username = user.map(str::to_owned);
        s.password = password.map(placer_cli::Secret::new);
        s
    };

    // The right password: state is written and read back.
    let store = EtcdStore::connect(&with(Some("root"), Some("root-password-1")))
        .await
        .unwrap();
    save_json(&store, &key(), &7).await.unwrap();
    assert!(matches!(
        load_json::<u32>(&store, &key()).await.unwrap(),
        Restored::Loaded(7)
    ));
    assert!(!format!("{store:?}").contains("root-password-1"));

    // A wrong password is refused with an error that does not show it.
    let wrong = with(Some("root"), Some("not-the-password-2"));
    assert!(!format!("{wrong:?}").contains("not-the-password-2"));
    let err = match EtcdStore::connect(&wrong).await {
        Err(err) => err,
        Ok(store) => load_json::<u32>(&store, &key()).await.unwrap_err(),
    };
    let text = format!("{err} {err:?}");
    assert!(!text.contains("not-the-password-2"), "{text}");
    assert!(
        text.contains("etcd://"),
        "the error names the store: {text}"
    );

    // No credentials at all: reading is refused, not taken for "no state".
    let anonymous = EtcdStore::connect(&with(None, None)).await.unwrap();
    assert!(load_json::<u32>(&anonymous, &key()).await.is_err());
}

#[ignore = "needs etcd"]
#[tokio::test]
async fn an_expired_token_is_replaced_without_the_caller_noticing() {
    // Tokens that expire after a second without use.
    let etcd = etcd::Etcd::start_with(None, &["--auth-token-ttl=1"]);
    etcd.enable_auth("root-password-3");
    let mut with_user = settings(&etcd, "expiry", "a");
    with_user.username = Some("root".into());
    with_user.password = Some(placer_cli::Secret::new("root-password-3"));
    let store = EtcdStore::connect(&with_user).await.unwrap();
    store.load(&key()).await.unwrap();

    // A token handed out like the store's is refused once idle too long.
    let token = etcd.authenticate("root", "root-password-3");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, answer) = etcd.post(
        Some(&token),
        "/v3/kv/range",
        &serde_json::json!({"key": "eA=="}),
    );
    assert_eq!(status, 401, "the idle token was still taken: {answer}");

    // The store's token has expired the same way: it authenticates again.
    save_json(&store, &key(), &8).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(matches!(
        load_json::<u32>(&store, &key()).await.unwrap(),
        Restored::Loaded(8)
    ));
}

#[ignore = "needs etcd"]
#[tokio::test]
async fn a_member_that_cannot_be_reached_is_skipped_for_the_next() {
    let etcd = etcd::Etcd::start();
    // Nothing listens on the first member's port.
    let down = format!("127.0.0.1:{}", kit::free_port());
    let mut two = settings(&etcd, "members", "a");
    two.url = format!("etcd://{down},{}/members", etcd.endpoint())
        .parse()
        .unwrap();
    let store = EtcdStore::connect(&two).await.unwrap();
    store.load(&key()).await.unwrap();
    save_json(&store, &key(), &9).await.unwrap();
    assert_eq!(
        etcd.get("/members/apps/shop/engine_state").as_deref(),
        Some(&b"9\n"[..])
    );
    let leadership = store.join_election(&two);
    wait_for("a leader", || {
        matches!(leadership.role(), Role::Leader { .. })
    })
    .await;
    leadership.confirm().await.unwrap();
    save_json(&store, &key(), &10).await.unwrap();

    // With no member left, the error says which could not be reached.
    let mut none = settings(&etcd, "members", "b");
    none.url = format!("etcd://{down}/members").parse().unwrap();
    let lonely = EtcdStore::connect(&none).await.unwrap();
    let err = lonely.load(&key()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("cannot reach {down}")),
        "{err}"
    );
}

#[ignore = "needs etcd"]
#[tokio::test]
async fn a_member_that_never_answers_is_left_for_the_next_without_a_write_sent_twice() {
    let etcd = etcd::Etcd::start();
    // Takes connections (the kernel completes them) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_at = silent.local_addr().unwrap();
    let mut two = settings(&etcd, "silent", "a");
    two.timeout = Duration::from_millis(500);
    two.url = format!("etcd://{silent_at},{}/silent", etcd.endpoint())
        .parse()
        .unwrap();
    let value_in_etcd = || etcd.get("/silent/apps/shop/engine_state");

    // A write that may have reached a member is not sent to another...
    let store = EtcdStore::connect(&two).await.unwrap();
    let err = store.save(&key(), b"1").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(
        err.to_string().contains("no answer within the timeout"),
        "{err}"
    );
    assert_eq!(value_in_etcd(), None);
    // ...but the next request starts with the next member.
    store.save(&key(), b"2").await.unwrap();
    assert_eq!(value_in_etcd().as_deref(), Some(&b"2"[..]));

    // A read goes on to the next member at once.
    let reader = EtcdStore::connect(&two).await.unwrap();
    assert_eq!(
        reader.load(&key()).await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    drop(silent);
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate
/// (`client.pem`, `client.key`) made with the `openssl` command (a failure without it). Returns the
/// CA's file and the server's certificate and key.
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let binary = kit::locate("openssl", "openssl");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new(&binary)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=placer test CA",
    ]);
    openssl(&ca);
    // `name.pem` and `name.key`, signed by the CA.
    let issue = |name: &str, subject: &str, extensions: &str| {
        let ext = format!("{name}.ext");
        std::fs::write(dir.join(&ext), extensions).unwrap();
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let mut request = vec!["req"];
        request.extend(ec);
        request.extend(["-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(&request);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "1",
            "-extfile",
            &ext,
        ]);
    };
    // etcd's JSON gateway calls etcd's gRPC server with the server's
    // certificate, so when clients must show one it must be good for
    // clients too.
    issue(
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
    );
    issue(
        "client",
        "/CN=placer",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=clientAuth\n",
    );
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[ignore = "needs etcd and openssl"]
#[tokio::test]
async fn a_cluster_that_asks_for_client_certificates_takes_ours_and_refuses_none() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key_file) = certificates(certs.path());
    let trusted_ca = format!("--trusted-ca-file={}", ca.display());
    let etcd = etcd::Etcd::start_with(Some((cert, key_file)), &["--client-cert-auth", &trusted_ca]);
    let mut with_certificate = settings(&etcd, "mtls", "a");
    with_certificate.ca_file = Some(ca.clone());
    with_certificate.cert_file = Some(certs.path().join("client.pem"));
    with_certificate.key_file = Some(certs.path().join("client.key"));
    let store = EtcdStore::connect(&with_certificate).await.unwrap();
    save_json(&store, &key(), &12).await.unwrap();
    assert!(matches!(
        load_json::<u32>(&store, &key()).await.unwrap(),
        Restored::Loaded(12)
    ));

    // Trusting the server is not enough: it wants a certificate.
    let mut without = settings(&etcd, "mtls", "b");
    without.ca_file = Some(ca);
    let refused = match EtcdStore::connect(&without).await {
        Err(_) => true,
        Ok(store) => load_json::<u32>(&store, &key()).await.is_err(),
    };
    assert!(refused, "a client without a certificate was let in");

    // A certificate without its key is a setting error.
    let mut half = with_certificate.clone();
    half.key_file = None;
    let err = EtcdStore::connect(&half).await.unwrap_err();
    assert!(err.to_string().contains("go together"), "{err}");
}

#[ignore = "needs etcd and openssl"]
#[tokio::test]
async fn a_cluster_served_over_tls_is_reached_with_its_ca_and_refused_without() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key_file) = certificates(certs.path());
    let etcd = etcd::Etcd::start_with_tls(Some((cert, key_file)));
    let mut trusted = settings(&etcd, "tls", "a");
    trusted.tls = true;
    trusted.ca_file = Some(ca);
    let store = EtcdStore::connect(&trusted).await.unwrap();
    save_json(&store, &key(), &11).await.unwrap();
    assert!(matches!(
        load_json::<u32>(&store, &key()).await.unwrap(),
        Restored::Loaded(11)
    ));

    // Without the CA the server's certificate is not trusted.
    let mut untrusted = settings(&etcd, "tls", "b");
    untrusted.tls = true;
    let refused = match EtcdStore::connect(&untrusted).await {
        Err(_) => true,
        Ok(store) => load_json::<u32>(&store, &key()).await.is_err(),
    };
    assert!(refused, "a certificate from an unknown CA was accepted");
    // Plain HTTP to a TLS-only server is refused too.
    let plain = match EtcdStore::connect(&settings(&etcd, "tls", "c")).await {
        Err(_) => true,
        Ok(store) => load_json::<u32>(&store, &key()).await.is_err(),
    };
    assert!(plain, "plain HTTP reached a TLS-only etcd");
}

#[ignore = "needs etcd"]
#[test]
fn once_keeps_its_state_in_etcd_and_the_next_run_goes_on_from_it() {
    let etcd = etcd::Etcd::start();
    let config = format!("{}\nsimulation:\n  seed: 7\n", kit::default_config());
    let workspace = kit::Workspace::new(&config);
    let url = etcd.url("once");
    let env = [("PLACER_STATE_URL", url.as_str())];
    let points = |output: &std::process::Output| -> u64 {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        report["regions"]
            .as_object()
            .unwrap()
            .values()
            .map(|detail| detail["points"].as_u64().unwrap())
            .max()
            .unwrap()
    };

    let first = workspace.run(&["once"], &env);
    assert_eq!(points(&first), 1);
    let second = workspace.run(&["once"], &env);
    assert_eq!(points(&second), 2, "the second run reads the first's state");
    // Nothing was kept in files.
    let data = workspace.dir.path().join("data");
    let files: Vec<_> = walk(&data);
    assert!(
        !files.iter().any(|file| file.contains("engine_state")),
        "{files:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|entry| {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path.display().to_string()]
            }
        })
        .collect()
}

#[ignore = "needs etcd"]
#[test]
fn a_dropped_apps_keys_are_moved_aside_so_a_new_app_of_that_name_starts_afresh() {
    let etcd = etcd::Etcd::start();
    const TOKEN: &str = "FlyV1 fm2_test-token";
    let runtime = kit::runtime();
    let api = runtime
        .block_on(placer_fly::fake::FakeMachinesApi::start("shop-web", TOKEN))
        .unwrap();
    api.set_org("acme");
    api.add_machine(placer_fly::fake::MachineSpec::new("iad"));
    let config = format!(
        "dry_run: true\n\
         apps:\n  shop-*: {{}}\n\
         service:\n  interval: 0\n  apps_refresh: 1s\n\
         simulation:\n  seed: 3\n\
         fly:\n  org: acme\n  api_url: {}\n  retry:\n    max_attempts: 1\n",
        api.base_url()
    );
    let workspace = kit::Workspace::new(&config);
    let url = etcd.url("fleet");
    let mut server = workspace.serve(
        &[],
        &[("FLY_API_TOKEN", TOKEN), ("PLACER_STATE_URL", url.as_str())],
    );
    server.wait_for_log("elected leader", Duration::from_secs(30));
    kit::trigger(&server);
    let keys = |prefix: &str| etcd.keys(prefix);
    assert!(
        keys("/fleet/apps/shop-web/").contains(&"/fleet/apps/shop-web/engine_state_dry_run".into()),
        "{:?}",
        keys("/fleet/")
    );

    api.delete_app("shop-web");
    server.wait_for_log("dropped", Duration::from_secs(10));
    let after = keys("/fleet/apps/shop-web/");
    assert!(
        !after.contains(&"/fleet/apps/shop-web/engine_state_dry_run".to_owned()),
        "{after:?}"
    );
    assert!(
        after
            .iter()
            .any(|key| key.starts_with("/fleet/apps/shop-web/engine_state_dry_run.dropped-")),
        "{after:?}"
    );
    assert!(server.stop().success());
}
