use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::cli::Cli;
use crate::config;

fn args(flags: &[&str]) -> GlobalArgs {
    let mut argv = vec!["fly-placer"];
    argv.extend_from_slice(flags);
    Cli::parse_checked(argv).unwrap().global
}

fn env(vars: &[(&str, &str)]) -> Environment {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Environment::from_lookup(|name| vars.get(name).cloned())
}

fn config(text: &str) -> LoadedConfig {
    config::file::parse(text, Path::new("config.yml")).unwrap()
}

#[test]
fn out_of_the_box_is_a_simulated_dry_run_on_loopback() {
    let resolved = resolve(&args(&[]), &env(&[]), &config("dry_run: true\n"), 99).unwrap();
    assert!(resolved.dry_run);
    assert_eq!(resolved.listen, "127.0.0.1:8000".parse().unwrap());
    assert_eq!(resolved.interval, Duration::from_secs(60));
    assert_eq!(
        resolved.engine_state_file(),
        Path::new("data/engine_state_dry_run.json")
    );
    assert!(matches!(
        resolved.traffic,
        TrafficPlan::Simulated {
            seed: 99,
            seed_configured: false,
            ..
        }
    ));
    match &resolved.deployment {
        DeploymentPlan::Simulated { state_file, .. } => {
            assert_eq!(state_file, Path::new("data/deployment_state_dry_run.json"))
        }
        other => panic!("expected a simulated deployment, got {other:?}"),
    }
    resolved.check_serve().unwrap();
}

#[test]
fn live_mode_names_everything_missing() {
    let live = config("dry_run: false\n");
    let err = resolve(&args(&[]), &env(&[]), &live, 1).unwrap_err();
    let message = err.to_string();
    // On Fly, FLY_APP_NAME names the placer's own app: PLACER_APP comes first.
    assert!(
        message.contains("set PLACER_APP (or `fly.app`; off Fly, FLY_APP_NAME)"),
        "{message}"
    );
    assert!(message.contains("FLY_API_TOKEN"), "{message}");

    let err = resolve(&args(&[]), &env(&[("FLY_APP_NAME", "shop")]), &live, 1).unwrap_err();
    assert_eq!(
        err,
        SetupError::LiveNeedsFly {
            at: "config.yml:1: dry_run".into(),
            missing: vec!["FLY_API_TOKEN".into()]
        }
    );
    assert!(
        err.to_string().contains("FLY_API_TOKEN is not set"),
        "{err}"
    );

    let ok = resolve(
        &args(&[]),
        &env(&[("FLY_APP_NAME", "shop"), ("FLY_API_TOKEN", "secret")]),
        &live,
        1,
    )
    .unwrap();
    assert!(matches!(ok.deployment, DeploymentPlan::Live(ref plan) if plan.app.as_str() == "shop"));
    assert_eq!(ok.engine_state_file(), Path::new("data/engine_state.json"));
}

#[test]
fn dry_run_with_fly_credentials_observes_the_real_app() {
    let resolved = resolve(
        &args(&[]),
        &env(&[("FLY_APP_NAME", "shop"), ("FLY_API_TOKEN", "secret")]),
        &config("dry_run: true\n"),
        1,
    )
    .unwrap();
    assert!(matches!(resolved.deployment, DeploymentPlan::Observed(_)));
}

#[test]
fn prometheus_needs_an_app_and_the_environment_wins_over_the_file() {
    let file = config("prometheus:\n  url: http://127.0.0.1:1/file\n");
    let err = resolve(&args(&[]), &env(&[]), &file, 1).unwrap_err();
    assert!(err.to_string().contains("prometheus.url is set"), "{err}");

    let resolved = resolve(
        &args(&[]),
        &env(&[
            ("FLY_PROMETHEUS_URL", "http://127.0.0.1:1/env"),
            ("FLY_APP_NAME", "shop"),
            ("FLY_API_TOKEN", "fly-token"),
        ]),
        &file,
        1,
    )
    .unwrap();
    match resolved.traffic {
        TrafficPlan::Prometheus(plan) => {
            assert_eq!(plan.url, "http://127.0.0.1:1/env");
            assert_eq!(plan.url_from, "FLY_PROMETHEUS_URL");
            assert_eq!(plan.token, Some(Secret::new("fly-token")));
        }
        other => panic!("expected Prometheus, got {other:?}"),
    }
}

#[test]
fn app_name_precedence_and_the_fly_machine_trap() {
    let file = config("fly:\n  app: from-file\n");
    let both = env(&[("PLACER_APP", "from-env"), ("FLY_APP_NAME", "fly-name")]);
    let app = |resolved: Resolved| match resolved.deployment {
        DeploymentPlan::Observed(plan) => (plan.app.to_string(), plan.app_from),
        other => panic!("unexpected {other:?}"),
    };
    let with_token = |mut env: Environment| {
        env.api_token = Some(Secret::new("t"));
        env
    };
    assert_eq!(
        app(resolve(&args(&[]), &with_token(both), &file, 1).unwrap()),
        ("from-env".to_owned(), "PLACER_APP")
    );
    assert_eq!(
        app(resolve(
            &args(&[]),
            &with_token(env(&[("FLY_APP_NAME", "x")])),
            &file,
            1
        )
        .unwrap()),
        ("from-file".to_owned(), "fly.app")
    );

    let on_fly = env(&[
        ("FLY_APP_NAME", "placer"),
        ("FLY_MACHINE_ID", "e784"),
        ("FLY_API_TOKEN", "t"),
    ]);
    let live = config("dry_run: false\n");
    let err = resolve(&args(&[]), &on_fly, &live, 1).unwrap_err();
    assert_eq!(
        err,
        SetupError::OwnAppOnFly {
            app: "placer".into()
        }
    );
    let dry = resolve(&args(&[]), &on_fly, &config("dry_run: true\n"), 1).unwrap();
    assert!(matches!(dry.deployment, DeploymentPlan::Simulated { .. }));
    assert_eq!(dry.notes.len(), 1);
}

#[test]
fn flags_win_over_the_file() {
    let file = config("service:\n  listen: 127.0.0.1:7000\n  data_dir: /srv/placer\n");
    let resolved = resolve(&args(&[]), &env(&[]), &file, 1).unwrap();
    assert_eq!(resolved.listen.port(), 7000);
    assert_eq!(resolved.data_dir, Path::new("/srv/placer"));
    let resolved = resolve(
        &args(&["--listen", "127.0.0.1:7001", "--data-dir", "/tmp/x"]),
        &env(&[]),
        &file,
        1,
    )
    .unwrap();
    assert_eq!(resolved.listen.port(), 7001);
    assert_eq!(resolved.data_dir, Path::new("/tmp/x"));
}

#[test]
fn off_loopback_requires_a_trigger_token() {
    let open = args(&["--listen", "0.0.0.0:8000"]);
    let resolved = resolve(&open, &env(&[]), &config(""), 1).unwrap();
    let err = resolved.check_serve().unwrap_err();
    assert!(err.to_string().contains("PLACER_TRIGGER_TOKEN"), "{err}");

    let guarded = resolve(
        &open,
        &env(&[("PLACER_TRIGGER_TOKEN", "t")]),
        &config(""),
        1,
    )
    .unwrap();
    guarded.check_serve().unwrap();
    let from_file = resolve(
        &open,
        &env(&[]),
        &config("service:\n  trigger_token: file-secret\n"),
        1,
    )
    .unwrap();
    from_file.check_serve().unwrap();
    assert!(!format!("{from_file:?}").contains("file-secret"));
}

#[test]
fn errors_about_file_settings_name_the_file_line_and_key() {
    let live = config("# live\ntraffic_threshold: 60\ndry_run: false\n");
    let err = resolve(&args(&[]), &env(&[]), &live, 1).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "config.yml:3: dry_run is false, so fly-placer would change real machines"
        ),
        "{err}"
    );

    let prometheus =
        config("dry_run: true\nprometheus:\n  timeout: 5s\n  url: http://127.0.0.1:9090\n");
    let err = resolve(&args(&[]), &env(&[]), &prometheus, 1).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("config.yml:4: prometheus.url is set, but there is no app"),
        "{err}"
    );
    let err = resolve(
        &args(&[]),
        &env(&[("FLY_PROMETHEUS_URL", "http://127.0.0.1:9090")]),
        &config("dry_run: true\n"),
        1,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("FLY_PROMETHEUS_URL is set, but"),
        "{err}"
    );

    let open = config("service:\n  interval: 5s\n  listen: 0.0.0.0:8000\n");
    let resolved = resolve(&args(&[]), &env(&[]), &open, 1).unwrap();
    let err = resolved.check_serve().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("config.yml:3: service.listen: listening on 0.0.0.0:8000"),
        "{err}"
    );
    let resolved = resolve(&args(&["--listen", "0.0.0.0:9000"]), &env(&[]), &open, 1).unwrap();
    let err = resolved.check_serve().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--listen (PLACER_LISTEN): listening on 0.0.0.0:9000"),
        "{err}"
    );
}

#[test]
fn region_lists_naming_no_fly_region_get_a_note_naming_file_and_key() {
    let file = config("allowed_regions: [fra, sfo]\nalways_running_regions: [fra]\n");
    let resolved = resolve(&args(&[]), &env(&[]), &file, 1).unwrap();
    assert_eq!(resolved.notes.len(), 1, "{:?}", resolved.notes);
    let note = &resolved.notes[0];
    assert!(
        note.starts_with("config.yml: `allowed_regions` lists sfo"),
        "{note}"
    );
    assert!(note.contains("not a Fly region"), "{note}");

    let clean = config("allowed_regions: [fra, sjc]\n");
    assert!(resolve(&args(&[]), &env(&[]), &clean, 1)
        .unwrap()
        .notes
        .is_empty());
}

#[test]
fn an_app_name_fly_would_refuse_is_an_error_naming_where_it_came_from() {
    let file = config("dry_run: true\n");
    for (var, value) in [("PLACER_APP", "Shop Web"), ("FLY_APP_NAME", "-shop")] {
        let err = resolve(&args(&[]), &env(&[(var, value)]), &file, 1).unwrap_err();
        assert!(
            matches!(err, SetupError::AppName { from, .. } if from == var),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!("{var}: app name ")),
            "{err}"
        );
    }
    // A good name is taken as it is, once, into both plans.
    let resolved = resolve(
        &args(&[]),
        &env(&[
            ("PLACER_APP", "shop-web"),
            ("FLY_PROMETHEUS_URL", "http://127.0.0.1:9/"),
            ("FLY_API_TOKEN", "t"),
        ]),
        &file,
        1,
    )
    .unwrap();
    assert_eq!(
        resolved.app.as_ref().map(|app| app.as_str()),
        Some("shop-web")
    );
    assert_eq!(resolved.app_key(), "shop-web");
}
