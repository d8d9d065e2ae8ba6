//! Invariants checked on generated inputs.
use placer_fly::parse_machine_list;
use proptest::prelude::*;

fn machine_json() -> impl Strategy<Value = String> {
    let state = prop::sample::select(vec![
        "created",
        "starting",
        "started",
        "stopping",
        "stopped",
        "suspended",
        "failed",
        "destroying",
        "destroyed",
        "replacing",
    ]);
    let host = prop::sample::select(vec!["ok", "unknown", "unreachable"]);
    let group = prop::sample::select(vec!["app", "worker"]);
    (
        "[a-z0-9]{1,14}",
        state,
        "[a-z]{3}",
        host,
        group,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(id, state, region, host, group, managed, parked)| {
            let mut metadata = format!(r#""fly_process_group":"{group}""#);
            if managed {
                metadata.push_str(r#","fly_placer":"managed""#);
            }
            if parked {
                metadata.push_str(r#","fly_placer_parked":"true""#);
            }
            format!(
                r#"{{"id":"{id}","state":"{state}","region":"{region}","host_status":"{host}",
                    "config":{{"image":"img","metadata":{{{metadata}}},"guest":{{"cpus":1}}}}}}"#
            )
        })
}

proptest! {
    #[test]
    fn the_parser_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_machine_list(&body);
    }

    #[test]
    fn listings_round_trip_and_liveness_rules_hold(machines in prop::collection::vec(machine_json(), 0..8)) {
        let body = format!("[{}]", machines.join(","));
        let parsed = parse_machine_list(body.as_bytes()).unwrap();
        prop_assert_eq!(parsed.len(), machines.len());
        for machine in &parsed {
            let gone = ["destroyed", "destroying", "failed"].contains(&machine.state.as_str())
                || machine.host_status.as_deref() == Some("unreachable");
            prop_assert_eq!(machine.is_alive(), !gone);
            prop_assert_eq!(machine.is_deployed(), !gone && !machine.is_parked());
            prop_assert!(!machine.is_healthy() || machine.is_deployed());
        }
        let again = parse_machine_list(&serde_json::to_vec(&parsed).unwrap()).unwrap();
        prop_assert_eq!(again, parsed);
    }
}
