//! Fuzzes the parser of `GET /v1/apps/{app}/machines` responses: any bytes
//! must give machines or an error, never a panic, and what parses must read
//! back the same after serializing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(machines) = placer_fly::parse_machine_list(body) else {
        return;
    };
    for machine in &machines {
        // A deployed machine is alive; a healthy one is deployed.
        assert!(!machine.is_deployed() || machine.is_alive());
        assert!(!machine.is_healthy() || machine.is_deployed());
        let _ = machine.created();
    }
    let json = serde_json::to_vec(&machines).expect("parsed machines serialize");
    let again = placer_fly::parse_machine_list(&json).expect("serialized machines parse");
    assert_eq!(again, machines);
});
