//! `hostile-gen <class> <bytes> <out.o>`: writes one generated object.
//! `hostile-gen list` prints the classes. Sizes take a K or M suffix
//! (powers of 1024).

use std::process::ExitCode;

fn parse_size(s: &str) -> Option<usize> {
    let (num, mul) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1024),
        b'M' | b'm' => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mul)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd] if cmd == "list" => {
            for c in hostile::CLASSES {
                let expect = match c.expect {
                    hostile::Expect::Ok => "Ok".to_string(),
                    hostile::Expect::Err(k) => k.to_string(),
                };
                println!("{:<28} {:<28} {}", c.name, expect, c.attack);
            }
            ExitCode::SUCCESS
        }
        [class, size, out] => {
            let Some(c) = hostile::find(class) else {
                eprintln!("hostile-gen: unknown class {class:?} (see `hostile-gen list`)");
                return ExitCode::from(2);
            };
            let Some(size) = parse_size(size) else {
                eprintln!("hostile-gen: bad size {size:?}");
                return ExitCode::from(2);
            };
            let bytes = c.generate(size);
            if let Err(e) = std::fs::write(out, &bytes) {
                eprintln!("hostile-gen: {out}: {e}");
                return ExitCode::FAILURE;
            }
            println!(
                "{out}: {} bytes, class {}, parse it as {:?}",
                bytes.len(),
                c.name,
                c.file_name
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: hostile-gen <class> <bytes> <out.o> | hostile-gen list");
            ExitCode::from(2)
        }
    }
}
