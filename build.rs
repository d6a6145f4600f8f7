// The shipped labs, roles, template and image scripts are embedded with
// include_dir!/include_str!; tell cargo to rebuild when any of them changes
// (include_dir alone does not notice files added to a folder).
fn main() {
    for p in ["labs", "provision", "image", "vagrant", "Vagrantfile.tera"] {
        println!("cargo:rerun-if-changed={p}");
    }
}
