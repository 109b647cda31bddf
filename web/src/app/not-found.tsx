import Link from "next/link";

export default function NotFound() {
  return (
    <div className="panel">
      <h1>Not found</h1>
      <p>There is no such task on this contract.</p>
      <Link href="/">All tasks</Link>
    </div>
  );
}
