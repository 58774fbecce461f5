//! Short examples shown under `--help` (and `skiff help VERB`) of the
//! main verbs.

pub const RUN: &str = "\
Examples:
  skiff run --rm busybox echo hello
  skiff run -it --rm busybox sh
  skiff run -d --name web -v data:/data busybox sleep 3600
  skiff run --rm -e GREETING=hi --entrypoint sh busybox -c 'echo $GREETING'";

pub const PS: &str = "\
Examples:
  skiff ps
  skiff ps -a --filter status=exited
  skiff ps --format '{{.Names}} {{.Status}}'
  skiff ps -q";

pub const LOGS: &str = "\
Examples:
  skiff logs web
  skiff logs -f --tail 10 web
  skiff logs --since 10m -t web";

pub const EXEC: &str = "\
Examples:
  skiff exec web ls /
  skiff exec -it web sh
  skiff exec -e DEBUG=1 -u 1000 -w /tmp web env";

pub const VOLUME: &str = "\
Examples:
  skiff volume create data
  skiff run --rm -v data:/data busybox touch /data/x
  skiff volume ls
  skiff volume inspect data
  skiff volume rm data";

pub const PULL: &str = "\
Examples:
  skiff pull busybox
  skiff pull docker.io/library/alpine:3.20
  skiff pull --platform linux/arm64 busybox
  skiff pull --tls-verify=false localhost:5000/app:1";

pub const SECRET: &str = "\
Examples:
  echo -n mypassword | skiff secret create db_password -
  skiff run --rm --secret db_password busybox cat /run/secrets/db_password
  skiff run --rm --secret db_password,type=env,target=DB_PASS busybox env
  skiff secret ls
  skiff secret rm db_password";

pub const BUILD: &str = "\
Examples:
  skiff build -t myapp:1.0 .
  skiff build -t app -f docker/Dockerfile --build-arg VERSION=2.0 .
  skiff build --target builder -t app:build .
  skiff build -q - < Dockerfile
  skiff build --secret id=token,src=token.txt -t app .";
