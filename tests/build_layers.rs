//! What a RUN step's layer holds, root and rootless: the directories
//! overlay copied up only because skiff made mount targets in them
//! (`etc/` for /etc/hosts, `run/secrets/` for a secret) are not in it,
//! so a RUN that changed nothing adds no layer; a real change below
//! them still keeps them.

mod common;

use common::build::*;
use common::*;

#[test]
fn mount_target_stubs_are_not_in_run_layers() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let base_layers = inspect(ctx, "busybox", "{{len .RootFS.Layers}}");
        let dockerfile = "FROM busybox
RUN true
RUN --mount=type=secret,id=tok cat /run/secrets/tok
";
        let dir = context(ctx, "st", dockerfile, &[]);
        let secret = ctx.write_file("tok.txt", "t\n");
        let secret_arg = format!("id=tok,src={}", secret.display());
        build_ok(ctx, &["--secret", &secret_arg, "-t", "st", &dir]);
        assert_eq!(
            inspect(ctx, "st", "{{len .RootFS.Layers}}"),
            base_layers,
            "RUN steps that changed nothing add no layer"
        );

        // A file written under /etc is kept, with its directory.
        ctx.write_file("st/Dockerfile", "FROM busybox\nRUN echo kept > /etc/made\n");
        build_ok(ctx, &["-t", "st2", &dir]);
        assert_eq!(
            ctx.run_ok(&["run", "--rm", "st2", "cat", "/etc/made"]),
            "kept\n"
        );
        let layers: usize = inspect(ctx, "st2", "{{len .RootFS.Layers}}")
            .parse()
            .unwrap();
        assert_eq!(layers, base_layers.parse::<usize>().unwrap() + 1);
    });
}
